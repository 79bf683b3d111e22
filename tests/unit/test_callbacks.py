"""办件回访's sample: reproducible from (county, month) whatever order the cases come in, a share of each
window and station's cases with a minimum each; and what a call's outcome may say."""

from __future__ import annotations

import datetime as dt
import math

from hypothesis import given
from hypothesis import strategies as st

from node.rules.callbacks import (
    ClosedCase,
    describe,
    draw_sample,
    month_days,
    outcome_problems,
    previous_month,
    sample_size,
)

windows = st.sampled_from(["511302-01", "511302001-01", "511302002-01"])
stations = st.sampled_from(["511302001001-01", "511302001002-01", "511302002003-01", "511302-01"])
cases = st.lists(
    st.builds(ClosedCase, windows, stations, st.from_regex(r"N\d{6}", fullmatch=True)),
    unique_by=lambda c: c.number,
    max_size=120,
)
months = st.sampled_from(["2026-10", "2026-11", "2026-12"])


@given(cases, months, st.randoms(use_true_random=False))
def test_the_same_cases_in_any_order_give_the_same_sample(found, month, rng):
    shuffled = list(found)
    rng.shuffle(shuffled)
    assert draw_sample(found, "511302-01", month) == draw_sample(shuffled, "511302-01", month)


@given(cases, months, st.integers(1, 100), st.integers(0, 10))
def test_each_window_and_station_gives_its_share_and_at_least_the_minimum(found, month, share, minimum):
    sample = draw_sample(found, "511302-01", month, share, minimum)
    assert len(set(sample)) == len(sample) and set(sample) <= set(found)
    for group in {(c.window, c.station) for c in found}:
        count = sum(1 for c in found if (c.window, c.station) == group)
        drawn = sum(1 for c in sample if (c.window, c.station) == group)
        assert drawn == min(count, max(minimum, math.ceil(count * share / 100)))


def test_another_month_or_county_draws_another_sample_from_many_cases():
    many = [ClosedCase("w", "s", f"N{n:06d}") for n in range(200)]
    first = draw_sample(many, "511302-01", "2026-11")
    assert len(first) == 10  # 5% of 200
    assert first != draw_sample(many, "511302-01", "2026-12")
    assert first != draw_sample(many, "511303-01", "2026-11")


def test_sample_size_is_the_share_rounded_up_with_a_minimum_of_three():
    assert [sample_size(n) for n in (0, 1, 3, 10, 60, 61, 100, 1000)] == [0, 1, 3, 3, 3, 4, 5, 50]


def test_months():
    assert previous_month(dt.date(2026, 1, 6)) == "2025-12"
    assert month_days("2026-02") == (dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    assert month_days("2026-12") == (dt.date(2026, 12, 1), dt.date(2026, 12, 31))


def test_an_outcome_says_whether_reached_and_only_then_satisfied_and_problems():
    assert outcome_problems(True, False, ["overdue", "repeat_trips"], "") == []
    assert outcome_problems(False, None, [], "") == []
    assert outcome_problems(None, None, [], "") == ["请选择是否接通"]
    assert outcome_problems(True, None, [], "") == ["接通时请选择群众是否满意"]
    assert outcome_problems(False, True, [], "") == ["未接通时不能记录满意度或问题"]
    assert outcome_problems(True, True, ["other"], " ") == ["选择“其他”时请写明问题"]
    assert outcome_problems(True, True, ["bribes"], "") == ["不认识的问题：bribes"]


def test_an_outcome_in_words():
    assert describe(False, None, [], 0) == "未回访"
    assert describe(False, None, [], 2) == "未接通（2 次）"
    assert describe(True, False, ["overdue", "bribery"], 1) == "不满意（超期、吃拿卡要）"
    assert describe(True, True, [], 1) == "满意"
