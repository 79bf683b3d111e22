"""好差评's pure rules: five grades counted as 5..1 stars, reasons asked for the two low grades only, additions
within the period after the first rating."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from node.rules import tally
from node.rules.ratings import (
    ADDITION_DAYS,
    CHANNELS,
    COMMENT_LIMIT,
    GRADES,
    LOW_GRADES,
    REASONS,
    STARS,
    addition_problems,
    describe,
    grade_of_stars,
    rating_problems,
)

grades = st.sampled_from(list(GRADES))
reason_sets = st.lists(st.sampled_from(list(REASONS)), unique=True, max_size=len(REASONS))
channels = st.sampled_from(list(CHANNELS))
days = st.dates(dt.date(2020, 1, 1), dt.date(2040, 1, 1))


def test_the_five_grades_are_the_national_scale_best_first_counted_5_to_1():
    assert list(GRADES.values()) == ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
    assert [STARS[g] for g in GRADES] == [5, 4, 3, 2, 1]
    assert {GRADES[g] for g in LOW_GRADES} == {"不满意", "非常不满意"}
    assert LOW_GRADES == {g for g in GRADES if STARS[g] <= tally.LOW_STARS}  # a low grade is the dashboard's 差评


@given(st.integers(1, 5))
def test_old_stars_read_as_the_grade_that_counts_the_same(stars):
    assert STARS[grade_of_stars(stars)] == stars


@given(grades, reason_sets, st.text(max_size=COMMENT_LIMIT), channels)
def test_a_rating_is_accepted_exactly_when_its_reasons_fit_its_grade(grade, reasons, comment, channel):
    problems = rating_problems(grade, reasons, comment, channel)
    fits = bool(reasons) == (grade in LOW_GRADES) and ("other" not in reasons or comment.strip())
    assert (not problems) == bool(fits)
    assert all(isinstance(p, str) and p for p in problems)


@given(st.text(max_size=20), reason_sets, st.text(max_size=20), st.text(max_size=10))
def test_an_unknown_grade_or_channel_is_refused_in_chinese(grade, reasons, comment, channel):
    problems = rating_problems(grade, reasons, comment, channel)
    if grade not in GRADES:
        assert any("请选择评价" in p for p in problems)
    if channel not in CHANNELS:
        assert any("群众本人" in p for p in problems)


def test_an_unknown_or_repeated_reason_and_a_long_comment_are_refused():
    assert any("不认识" in p for p in rating_problems("dissatisfied", ["bribe"], "", "token"))
    assert any("只能选一次" in p for p in rating_problems("dissatisfied", ["slow", "slow"], "", "token"))
    assert any("200" in p for p in rating_problems("satisfied", [], "长" * (COMMENT_LIMIT + 1), "token"))
    assert any("其他" in p for p in rating_problems("very_dissatisfied", ["other"], "  ", "query"))


@given(days, st.integers(-3, 40), st.text(min_size=1, max_size=COMMENT_LIMIT).filter(str.strip))
def test_an_addition_is_allowed_within_the_period_after_the_rating_only(rated_on, after, comment):
    problems = addition_problems(comment, rated_on, rated_on + dt.timedelta(days=after))
    assert (not problems) == (after <= ADDITION_DAYS)


def test_an_addition_needs_a_rating_and_words():
    assert addition_problems("补充", None, dt.date(2026, 1, 1)) == ["办件尚未评价，不能追加评价"]
    assert addition_problems(" ", dt.date(2026, 1, 1), dt.date(2026, 1, 2)) == ["追加评价请写明内容"]


def test_a_rating_reads_as_words_with_its_reasons():
    assert describe("satisfied", []) == "满意"
    assert describe("very_dissatisfied", ["slow", "attitude"]) == "非常不满意（办事时间长、服务态度差）"
