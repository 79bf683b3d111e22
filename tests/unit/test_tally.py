"""What one application counts for, and the difference that takes an old count back."""

from __future__ import annotations

import datetime as dt

from node.catalogue.data import read_seed_holidays
from node.rules.deadlines import working_days_between
from node.rules.tally import Facts, bucket, decode, difference, encode, tally

WED = dt.date(2026, 11, 18)


def test_each_step_counts_on_its_own_day_and_a_decision_against_its_due_date():
    facts = Facts(
        "s-01",
        "item",
        "newborn",
        WED,
        WED,
        WED + dt.timedelta(days=8),
        WED + dt.timedelta(days=7),
        6,
        WED + dt.timedelta(days=9),
        1,
    )
    counts = tally(facts)
    assert counts[("2026-11-18", "s-01", "item", "newborn")] == {"filed": 1, "accepted": 1}
    assert counts[("2026-11-26", "s-01", "item", "newborn")] == {
        "decided": 1,
        "late": 1,
        "handling_days": 6,
        "within_10": 1,
    }
    assert counts[("2026-11-27", "s-01", "item", "newborn")] == {"rated": 1, "stars": 1, "low_rated": 1}


def test_a_decision_without_a_known_due_date_is_neither_on_time_nor_late():
    counts = tally(Facts("s-01", "item", None, WED, WED, WED, None, 0))
    assert counts[("2026-11-18", "s-01", "item", "")] == {
        "filed": 1,
        "accepted": 1,
        "decided": 1,
        "handling_days": 0,
        "within_1": 1,
    }


def test_the_difference_takes_back_the_old_count_and_keeps_only_what_changed():
    old = tally(Facts("s-01", "item", None, WED))
    new = tally(Facts("s-01", "item", None, WED, WED + dt.timedelta(days=1)))
    assert difference(new, old) == {("2026-11-19", "s-01", "item", ""): {"accepted": 1}}
    assert difference({}, new) == {k: {n: -v for n, v in row.items()} for k, row in new.items()}
    assert decode(encode(new)) == new and difference(new, new) == {}


def test_handling_time_buckets_and_working_days_leave_out_weekends_holidays_and_pauses():
    assert [bucket(d) for d in (0, 1, 2, 5, 6, 20, 21)] == [
        "within_1",
        "within_1",
        "within_3",
        "within_5",
        "within_10",
        "within_20",
        "over_20",
    ]
    table = read_seed_holidays()
    assert working_days_between(WED, WED, table) == 0
    assert working_days_between(WED, dt.date(2026, 11, 23), table) == 3  # Thu, Fri, Mon
    assert (
        working_days_between(WED, dt.date(2026, 11, 23), table, [(dt.date(2026, 11, 19), dt.date(2026, 11, 19))]) == 2
    )
    assert working_days_between(dt.date(2026, 9, 30), dt.date(2026, 10, 9), table) == 2  # 1–7 October off
