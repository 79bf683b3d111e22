"""The hub's statistics are kept as events are applied, on SQLite and PostgreSQL: the same sums whatever
order a station's and a hub's events arrive in, after a replay of one application and after a rebuild."""

from __future__ import annotations

import datetime as dt

import peewee as pw
import pytest

from node.applications import ApplicationProjection
from node.data import read_seed_holidays, sample_catalogue
from node.tally import COUNTERS
from storage.models import Application, EventRecord, Statistic
from sync.chain import GENESIS, link, sign_head
from sync.event import Event, make_event
from sync.keys import SigningKey
from sync.projection import Registry

STATION = "511302001001-01"
DAY_MS = 24 * 3600 * 1000
T0 = 1_795_000_000_000  # Wednesday 18 November 2026, 19:06 in Beijing


class Stream:
    """One installation's events in the village's stream, chained and signed as a sender would."""

    def __init__(self, origin: str):
        self.origin, self.key, self.events, self.chain = origin, SigningKey.generate(), [], GENESIS

    def add(self, type_: str, number: str, payload: dict, *, day: float, deps: tuple[Event, ...] = ()) -> Event:
        event = make_event(
            origin=self.origin,
            stream=STATION,
            seq=len(self.events) + 1,
            hlc=int(T0 + day * DAY_MS) << 16,
            type=type_,
            entity=f"application:{number}",
            payload=payload,
            deps=[d.eid for d in deps],
        )
        self.chain = link(self.chain, event.eid)
        self.events.append((event, self.chain))
        return event

    def send(self, log, upto: int) -> None:
        """Everything up to seq `upto`, with a head signed there."""
        event, chain = self.events[upto - 1]
        head = sign_head(
            self.key, origin=self.origin, stream=STATION, seq=upto, chain=chain, signed_at=1, expires_at_ms=2**41
        )
        log.ingest([e.raw for e, _ in self.events[:upto]], head)


def filing(number: str, item_code: str, bundle: str | None = None) -> dict:
    return {
        "number": number,
        "station": STATION,
        "item": {"code": item_code, "version": sample_catalogue().item(item_code).version},
        "bundle": bundle,
        "sealed": {},
        "keys": {},
        "lookups": {"id_number": "0" * 64, "name": "1" * 64},
        "masked_id": "110***********002X",
        "request_token": number[-8:].rjust(32, "0"),
        "operator": "cun.agent",
    }


@pytest.fixture
def hub_log(migrated, make_log):
    """A hub's log applying applications, trusting a village (v) and a county clerk's installation (c)."""
    village, county = Stream("i-village"), Stream("i-county")
    projection = ApplicationProjection(sample_catalogue, read_seed_holidays, "i-hub")
    log = make_log(
        "i-hub",
        SigningKey.generate(),
        {s.origin: s.key.verifying_key for s in (village, county)},
        registry=Registry((projection,)),
    )
    return log, village, county


def sums(**where) -> dict[str, int]:
    query = Statistic.select(*(pw.fn.COALESCE(pw.fn.SUM(getattr(Statistic, c)), 0) for c in COUNTERS))
    for name, value in where.items():
        query = query.where(getattr(Statistic, name) == value)
    return dict(zip(COUNTERS, query.scalar(as_tuple=True), strict=True))


def item():
    return next(i for i in sample_catalogue().current() if i.proxy_allowed and i.promised_limit.days > 0)


def a_case(village: Stream, county: Stream, number: str) -> None:
    """Filed Wednesday, a scan attached Thursday; accepted Wednesday evening, decided the next Monday,
    delivered and rated two stars: the attachment is concurrent with the county's steps."""
    filed = village.add("application.filed", number, filing(number, item().code, "newborn"), day=0)
    village.add(
        "material.attached",
        number,
        {"number": number, "material": "户口簿", "blob": "ab" * 32, "content_type": "image/png", "size": 1, "by": "x"},
        day=1,
        deps=(filed,),
    )
    accepted = county.add("application.accepted", number, {"by": "clerk"}, day=0.1, deps=(filed,))
    decided = county.add("application.decided", number, {"by": "clerk", "approved": True}, day=5, deps=(accepted,))
    delivered = county.add("application.delivered", number, {"by": "clerk"}, day=5.1, deps=(decided,))
    county.add("application.rated", number, {"stars": 2, "comment": "等太久"}, day=6, deps=(delivered,))


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
