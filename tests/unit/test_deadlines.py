"""node/rules/deadlines.py: time limits in working and calendar days, pauses, and where a deadline stands."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.catalogue.data import read_seed_holidays
from node.rules.deadlines import BadTimeLimit, Deadline, add_working_days, status, working_day, working_days_left
from node.rules.holidays import EMPTY_TABLE, build_table

SEED = read_seed_holidays()


def test_the_day_of_acceptance_does_not_count():
    assert add_working_days(date(2026, 3, 2), 1, SEED) == Deadline(date(2026, 3, 3), provisional=False)


def test_no_days_means_due_on_the_day_of_acceptance():
    assert add_working_days(date(2026, 3, 2), 0, SEED).due == date(2026, 3, 2)


def test_an_ordinary_week_skips_the_weekend():
    assert add_working_days(date(2026, 3, 5), 2, SEED).due == date(2026, 3, 9)  # Thu → Fri, Mon


def test_ten_working_days_across_the_2026_spring_festival_count_both_make_up_saturdays():
    # 11, 12, 13, 14 (Sat, make-up), [15–23 festival], 24, 25, 26, 27, 28 (Sat, make-up), 2 March
    assert add_working_days(date(2026, 2, 10), 10, SEED) == Deadline(date(2026, 3, 2), provisional=False)


def test_one_working_day_from_the_friday_before_the_festival_is_the_make_up_saturday():
    assert add_working_days(date(2026, 2, 13), 1, SEED).due == date(2026, 2, 14)


def test_an_application_accepted_on_a_make_up_saturday_counts_from_the_next_working_day():
    accepted = date(2026, 2, 14)
    assert working_day(accepted, SEED) == (True, False)
    assert add_working_days(accepted, 1, SEED).due == date(2026, 2, 24)
    assert add_working_days(accepted, 5, SEED).due == date(2026, 2, 28)  # 24, 25, 26, 27, 28 (Sat)


def test_three_working_days_across_national_day_2026_end_on_the_make_up_saturday():
    # [1–7 October off], 8, 9, 10 (Sat, make-up)
    assert add_working_days(date(2026, 9, 30), 3, SEED).due == date(2026, 10, 10)


def test_the_make_up_sunday_before_national_day_is_counted():
    assert add_working_days(date(2026, 9, 18), 1, SEED).due == date(2026, 9, 20)  # Fri → Sun 20 Sep


def test_the_mid_autumn_festival_and_its_weekend_are_skipped():
    assert add_working_days(date(2026, 9, 24), 1, SEED).due == date(2026, 9, 28)


def test_calendar_days_that_end_in_a_holiday_run_to_the_next_working_day():
    assert add_working_days(date(2026, 9, 24), 7, SEED, unit="calendar").due == date(2026, 10, 8)


def test_calendar_days_that_end_on_an_ordinary_sunday_run_to_monday():
    assert add_working_days(date(2026, 3, 1), 7, SEED, unit="calendar").due == date(2026, 3, 9)


def test_calendar_days_that_end_on_a_make_up_saturday_end_there():
    assert add_working_days(date(2026, 2, 13), 1, SEED, unit="calendar").due == date(2026, 2, 14)


def test_a_deadline_crossing_31_december_2026_is_provisional_on_weekdays_and_does_not_raise():
    # 29, 30, 31 December, Fri 1 January 2027 (a weekday guess: no 2027 table yet), Mon 4 January
    assert add_working_days(date(2026, 12, 28), 5, SEED) == Deadline(date(2027, 1, 4), provisional=True)


def test_a_provisional_deadline_is_recomputed_firmly_once_the_2027_table_arrives():
    table_2027 = build_table(
        SEED.days_off | {date(2027, 1, 1), date(2027, 1, 2), date(2027, 1, 3)},
        SEED.workdays,
        SEED.years | {2027},
        version=2,
    )
    assert add_working_days(date(2026, 12, 28), 5, table_2027) == Deadline(date(2027, 1, 5), provisional=False)


def test_a_calendar_deadline_ending_in_an_uncovered_year_is_provisional():
    assert add_working_days(date(2026, 12, 28), 10, SEED, unit="calendar") == Deadline(date(2027, 1, 7), True)


def test_a_calendar_deadline_inside_the_covered_years_is_not_provisional():
    assert not add_working_days(date(2026, 12, 1), 10, SEED, unit="calendar").provisional


def test_with_no_table_at_all_every_deadline_is_a_provisional_weekday_count():
    assert add_working_days(date(2026, 2, 13), 1, EMPTY_TABLE) == Deadline(date(2026, 2, 16), provisional=True)


def test_a_pause_for_corrections_shifts_the_due_date_by_its_working_days():
    assert add_working_days(date(2026, 3, 2), 5, SEED).due == date(2026, 3, 9)
    paused = add_working_days(date(2026, 3, 2), 5, SEED, pauses=[(date(2026, 3, 4), date(2026, 3, 5))])
    assert paused.due == date(2026, 3, 11)


def test_a_pause_covering_the_end_of_a_calendar_limit_moves_it_past_the_pause():
    pause = (date(2026, 3, 8), date(2026, 3, 12))
    due = add_working_days(date(2026, 3, 1), 7, SEED, unit="calendar", pauses=[pause]).due
    assert due == date(2026, 3, 13)


def test_a_pause_before_acceptance_changes_nothing():
    pause = (date(2026, 2, 1), date(2026, 2, 10))
    assert add_working_days(date(2026, 3, 2), 5, SEED, pauses=[pause]).due == date(2026, 3, 9)


@pytest.mark.parametrize(
    ("n", "unit", "pauses"),
    [
        (-1, "working", ()),
        (True, "working", ()),
        (5, "weeks", ()),
        (5, "working", [(date(2026, 3, 5), date(2026, 3, 4))]),
    ],
)
def test_a_limit_that_cannot_be_counted_is_refused(n, unit, pauses):
    with pytest.raises(BadTimeLimit):
        add_working_days(date(2026, 3, 2), n, SEED, unit=unit, pauses=pauses)


def test_a_deadline_that_has_passed_is_overdue():
    assert status(date(2026, 3, 9), date(2026, 3, 10), SEED) == "overdue"


def test_a_deadline_on_its_last_day_or_within_three_working_days_is_due_soon():
    assert status(date(2026, 3, 9), date(2026, 3, 9), SEED) == "due_soon"
    assert status(date(2026, 3, 12), date(2026, 3, 9), SEED) == "due_soon"


def test_a_deadline_further_off_is_on_time():
    assert status(date(2026, 3, 13), date(2026, 3, 9), SEED) == "on_time"
    assert status(date(2026, 3, 13), date(2026, 3, 9), SEED, warn_days=4) == "due_soon"


def test_a_deadline_after_the_spring_festival_is_due_soon_eleven_days_before():
    # left after 13 February: 14 (make-up Saturday), 24
    assert working_days_left(date(2026, 2, 24), date(2026, 2, 13), SEED) == 2
    assert status(date(2026, 2, 24), date(2026, 2, 13), SEED) == "due_soon"


starts = st.dates(date(2001, 1, 1), date(2099, 12, 31))
units = st.sampled_from(["working", "calendar"])
pause_lists = st.lists(
    st.tuples(st.integers(-5, 60), st.integers(0, 10)), max_size=3
)  # (offset from the start, length) of each pause


def to_pauses(start: date, spans: list[tuple[int, int]]) -> list[tuple[date, date]]:
    return [(start + timedelta(days=at), start + timedelta(days=at + length)) for at, length in spans]


@given(start=starts, n=st.integers(1, 40), unit=units, spans=pause_lists)
def test_the_due_date_is_always_a_working_day_strictly_after_acceptance(start, n, unit, spans):
    pauses = to_pauses(start, spans)
    deadline = add_working_days(start, n, SEED, unit=unit, pauses=pauses)
    works, guessed = working_day(deadline.due, SEED)
    assert works  # by the table, or a weekday where the table has no say
    assert deadline.due > start
    assert not any(first <= deadline.due <= last for first, last in pauses)
    if guessed:
        assert deadline.provisional


@given(start=starts, n=st.integers(0, 40), unit=units)
def test_a_longer_limit_is_never_due_earlier(start, n, unit):
    shorter, longer = (add_working_days(start, k, SEED, unit=unit).due for k in (n, n + 1))
    assert shorter < longer if unit == "working" else shorter <= longer


@given(start=starts, n=st.integers(0, 40), unit=units, spans=pause_lists)
def test_a_pause_never_brings_a_deadline_forward(start, n, unit, spans):
    plain = add_working_days(start, n, SEED, unit=unit).due
    assert add_working_days(start, n, SEED, unit=unit, pauses=to_pauses(start, spans)).due >= plain


@given(start=st.dates(date(2004, 1, 1), date(2026, 10, 1)), n=st.integers(0, 40))
def test_a_working_day_deadline_inside_the_covered_years_is_firm_and_one_past_them_provisional(start, n):
    deadline = add_working_days(start, n, SEED)
    assert deadline.provisional == (deadline.due.year > 2026)


def test_an_application_unaccepted_for_more_than_five_working_days_is_deemed_accepted():
    from node.rules.deadlines import deemed_accepted

    table = read_seed_holidays()
    friday = date(2026, 11, 27)
    assert not deemed_accepted(friday, date(2026, 12, 4), table)  # five working days later: still in time
    assert deemed_accepted(friday, date(2026, 12, 7), table)  # the sixth
    assert not deemed_accepted(date(2026, 9, 29), date(2026, 10, 8), table)  # the National Day week is off
