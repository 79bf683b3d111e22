"""The hub's statistics are kept as events are applied, on SQLite and PostgreSQL: the same sums whatever
order a station's and a hub's events arrive in, after a replay of one application and after a rebuild."""

from __future__ import annotations

import datetime as dt

import peewee as pw
import pytest

from harness.cases import STATION, a_case, case_log, filing, item
from node.rules.tally import COUNTERS
from storage.models import Application, EventRecord, Statistic


@pytest.fixture
def hub_log(migrated, make_log):
    return case_log(make_log)


def sums(**where) -> dict[str, int]:
    query = Statistic.select(*(pw.fn.COALESCE(pw.fn.SUM(getattr(Statistic, c)), 0) for c in COUNTERS))
    for name, value in where.items():
        query = query.where(getattr(Statistic, name) == value)
    return dict(zip(COUNTERS, query.scalar(as_tuple=True), strict=True))


def test_the_counters_add_up_whatever_order_the_events_arrive_in_and_after_a_rebuild(hub_log):
    log, village, county = hub_log
    a_case(village, county, f"{STATION}-20261118-AAAA00001")
    village.send(log, 1)  # filed
    county.send(log, 4)  # accepted, decided, delivered, rated: applied after the filing
    village.send(log, 2)  # the scan, concurrent and earlier than the decision: the application is replayed
    row = Application.get()
    assert row.state == "rated" and row.handling_days == 3  # Thu, Fri, Mon
    expected = {c: 0 for c in COUNTERS} | {
        "filed": 1,
        "accepted": 1,
        "decided": 1,
        "on_time" if row.decided_on <= row.due else "late": 1,
        "handling_days": 3,
        "within_3": 1,
        "rated": 1,
        "stars": 2,
        "low_rated": 1,
    }
    assert sums() == expected
    assert sums(day=dt.date(2026, 11, 18))["filed"] == 1 and sums(day=dt.date(2026, 11, 23))["decided"] == 1
    assert sums(bundle="newborn")["filed"] == 1

    log.rebuild()
    assert sums() == expected


def test_a_hubs_steps_arriving_before_the_filing_wait_and_then_count_once(hub_log):
    log, village, county = hub_log
    a_case(village, county, f"{STATION}-20261118-AAAA00001")
    county.send(log, 4)  # all pending: the filing has not arrived
    assert sums()["filed"] == 0 and sums()["accepted"] == 0
    village.send(log, 2)
    assert sums()["filed"] == 1 and sums()["decided"] == 1 and sums()["rated"] == 1


def test_a_refused_event_changes_no_counter(hub_log):
    log, village, county = hub_log
    number = f"{STATION}-20261118-AAAA00002"
    filed = village.add("application.filed", number, filing(number, item().code), day=0)
    county.add("application.decided", number, {"by": "clerk", "approved": True}, day=1, deps=(filed,))  # not accepted
    village.send(log, 1)
    before = sums()
    county.send(log, 1)
    assert EventRecord.get(EventRecord.origin == "i-county").status == "quarantined"
    assert sums() == before and before["filed"] == 1
