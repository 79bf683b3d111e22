"""node/rules/holidays.py and the seed table in node/data: which days offices work."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.catalogue.data import SEED_HOLIDAYS, read_seed_holidays
from node.catalogue.data.make_holidays import SEED_PATH, table_from_calendar
from node.rules.holidays import EMPTY_TABLE, BadHolidayTable, HolidayTable, build_table, table_from_json, table_to_json


@pytest.fixture(scope="module")
def seed() -> HolidayTable:
    return read_seed_holidays()


def days(first: date, last: date) -> set[date]:
    return {first + timedelta(days=i) for i in range((last - first).days + 1)}


def test_the_seed_covers_2004_to_2026_as_version_1(seed):
    assert seed.years == frozenset(range(2004, 2027))
    assert seed.version == 1


def test_the_seed_file_is_small_compact_and_one_year_a_line():
    text = SEED_PATH.read_text("utf-8")
    assert SEED_PATH.name == SEED_HOLIDAYS
    assert len(text.encode()) < 10_000
    assert ": " not in text and ", " not in text
    assert len(text.splitlines()) == 1 + 23


def test_the_seed_file_is_exactly_what_the_table_serialises_to(seed):
    assert table_to_json(seed) == SEED_PATH.read_text("utf-8")


def test_spring_festival_2026_is_nine_days_off_with_two_make_up_saturdays(seed):
    for day in days(date(2026, 2, 15), date(2026, 2, 23)):
        assert seed.is_working_day(day) is False
    assert seed.is_working_day(date(2026, 2, 14)) is True  # Saturday
    assert seed.is_working_day(date(2026, 2, 28)) is True  # Saturday
    assert seed.is_working_day(date(2026, 2, 24)) is True


def test_national_day_2026_is_seven_days_off_with_a_make_up_sunday_and_saturday(seed):
    for day in days(date(2026, 10, 1), date(2026, 10, 7)):
        assert seed.is_working_day(day) is False
    assert seed.is_working_day(date(2026, 9, 20)) is True  # Sunday
    assert seed.is_working_day(date(2026, 10, 10)) is True  # Saturday
    assert seed.is_working_day(date(2026, 10, 8)) is True  # Thursday


def test_ordinary_weekends_are_off_and_ordinary_weekdays_are_working(seed):
    assert seed.is_working_day(date(2026, 3, 7)) is False  # Saturday
    assert seed.is_working_day(date(2026, 3, 8)) is False  # Sunday
    assert seed.is_working_day(date(2026, 3, 9)) is True  # Monday


@pytest.mark.parametrize("day", [date(2027, 1, 1), date(2027, 6, 15), date(2003, 12, 31), date(2100, 1, 1)])
def test_a_year_the_table_does_not_cover_is_answered_with_none(seed, day):
    assert seed.is_working_day(day) is None


def test_the_empty_table_covers_nothing():
    assert EMPTY_TABLE.is_working_day(date(2026, 3, 9)) is None


def test_the_seed_agrees_with_chinese_calendar_on_every_day_it_knows(seed):
    import chinese_calendar  # a dev dependency: the seed is generated from it

    day = date(2004, 1, 1)
    while day.year <= 2026:
        assert seed.is_working_day(day) is chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


def test_a_table_built_from_calendar_sets_covers_the_years_they_mention():
    table = table_from_calendar({date(2030, 1, 1)}, {date(2031, 1, 4)}, version=2)
    assert table.years == {2030, 2031}
    assert table.is_working_day(date(2031, 1, 4)) is True  # a Saturday


def test_a_year_with_no_holidays_listed_is_still_covered():
    table = table_from_json('{"version":1,"years":{"2027":{"days_off":[],"workdays":[]}}}')
    assert table.is_working_day(date(2027, 1, 1)) is True
    assert table.is_working_day(date(2027, 1, 2)) is False


def test_a_bad_table_is_refused_with_every_problem_listed_in_chinese():
    text = json.dumps(
        {
            "version": 0,
            "years": {
                "2027": {
                    "days_off": [
                        ["2027-01-01", "2027-01-03"],
                        ["2027-02-10", "2027-02-01"],
                        ["2027-13-01", "2027-13-02"],
                    ],
                    "workdays": ["2027-01-02", "2027-01-05", "2028-01-01"],
                },
                "27": {"days_off": [], "workdays": []},
            },
        }
    )
    with pytest.raises(BadHolidayTable) as caught:
        table_from_json(text)
    problems = caught.value.problems
    assert len(problems) == 8
    assert any("版本号" in p for p in problems)
    assert any("首日晚于末日" in p for p in problems)
    assert any("2027-01-02 既是放假日又是调休上班日" in p for p in problems)
    assert any("2027-01-05 不是周六或周日" in p for p in problems)
    assert any("不属于该年" in p for p in problems)
    assert any("'27'" in p for p in problems)
    assert any("YYYY-MM-DD" in p for p in problems)


@pytest.mark.parametrize("text", ["", "[]", '{"version":1}', '{"version":1,"years":[]}', b"\xff"])
def test_text_that_is_not_a_table_is_refused_not_crashed_on(text):
    with pytest.raises(BadHolidayTable):
        table_from_json(text)


def test_a_make_up_workday_on_a_weekday_is_refused_when_building():
    with pytest.raises(BadHolidayTable, match="不是周六或周日"):
        build_table([], [date(2026, 3, 9)], [2026], version=1)


weekend_days = st.dates(date(2000, 1, 1), date(2035, 12, 31)).filter(lambda day: day.weekday() >= 5)


@given(
    days_off=st.frozensets(st.dates(date(2000, 1, 1), date(2035, 12, 31)), max_size=40),
    workdays=st.frozensets(weekend_days, max_size=10),
    extra_years=st.frozensets(st.integers(2000, 2040), max_size=3),
    version=st.integers(1, 10**6),
)
def test_any_consistent_table_survives_a_round_trip_through_json(days_off, workdays, extra_years, version):
    workdays = workdays - days_off
    years = {day.year for day in days_off | workdays} | extra_years
    table = build_table(days_off, workdays, years, version)
    text = table_to_json(table)
    assert table_from_json(text) == table
    assert table_to_json(table_from_json(text.encode())) == text
