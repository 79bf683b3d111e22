"""Writers of areas on PostgreSQL (`write_transaction(areas=...)`): a city applies two counties' relays at once,
one county's one after the other, and a reader following arrival numbers never passes over a late commit."""

from __future__ import annotations

import threading

import pytest

from harness.register import WRITE, RegisterProjection, create_register_table, state
from storage.database import bind, open_database, release, write_transaction
from storage.events import insert_events
from storage.migrations import migrate
from storage.models import EventRecord
from sync.chain import GENESIS, link, sign_head
from sync.event import make_event
from sync.keys import SigningKey
from sync.log import APPLIED
from sync.projection import Registry

pytestmark = pytest.mark.postgres

WAIT_S = 10
STILL_WAITING_S = 0.5  # long enough for a writer that was not made to wait to be done


@pytest.fixture
def pg(postgres_database):
    bind(open_database(postgres_database, connections=8))
    migrate()
    create_register_table()
    release()
    return postgres_database


class Writer(threading.Thread):
    """A transaction on a thread of its own, which does `work` (if any), says so, and ends when told."""

    def __init__(self, areas: tuple[str, ...] = (), work=None, hold: bool = True):
        super().__init__(daemon=True)
        self.areas, self.work, self.hold = areas, work, hold
        self.begun, self.done, self.go = threading.Event(), threading.Event(), threading.Event()
        if not hold:
            self.go.set()
        self.start()

    def run(self):
        try:
            with write_transaction(areas=self.areas):
                self.begun.set()
                if self.work:
                    self.work()
                self.done.set()
                self.go.wait(WAIT_S)
        finally:
            release()

    def end(self):
        self.go.set()
        self.join(WAIT_S)
        assert not self.is_alive()


def test_writers_of_two_areas_hold_the_log_at_once_and_writers_of_one_area_take_turns(pg):
    first = Writer(("330102",))
    assert first.done.wait(WAIT_S)
    other_area = Writer(("330103",), hold=False)
    same_area = Writer(("330102", "330104"), hold=False)
    whole_log = Writer(hold=False)
    assert other_area.done.wait(WAIT_S), "a writer of another area waited"
    assert not same_area.begun.wait(STILL_WAITING_S), "two writers of one area held it at once"
    assert not whole_log.begun.is_set(), "a writer of the whole log began while a writer of an area held part of it"
    first.end()
    for writer in (other_area, same_area, whole_log):
        writer.join(WAIT_S)
        assert writer.done.is_set()


def _row(n: int, stream: str) -> tuple:
    return (f"e-{stream}-{n}", "i-x", stream, n, n, "t", f"x:{n}", b"body", "chain", APPLIED, None)


def test_a_writer_of_areas_stores_events_only_once_the_events_stored_before_are_committed(pg):
    """Arrival numbers are taken as rows are inserted: if a second writer's came after the first's but committed
    before them, a reader would see the second's, move its cursor past the first's, and never read them."""
    first = Writer(("330102",), lambda: insert_events([_row(1, "330102001")]))
    assert first.done.wait(WAIT_S)
    second = Writer(("330103",), lambda: insert_events([_row(1, "330103001")]), hold=False)
    assert second.begun.wait(WAIT_S), "a writer of another area could not even begin"
    assert not second.done.wait(STILL_WAITING_S), "a second writer stored events before the first committed"
    first.end()
    second.join(WAIT_S)
    arrivals = dict(EventRecord.select(EventRecord.stream, EventRecord.arrival).tuples())
    assert arrivals["330102001"] < arrivals["330103001"]


class ConfinedRegister(RegisterProjection):
    """The register, whose rows are its entity's: entities are named for their stream here. A value `"wait"`
    stops its writer mid-apply until told."""

    confined = True

    def __init__(self):
        self.inside, self.go = threading.Event(), threading.Event()

    def apply(self, event):
        if event.payload["value"] == "wait":
            self.inside.set()
            self.go.wait(WAIT_S)
        super().apply(event)


def _county(stream: str) -> str | None:
    return stream[:6] if stream[:6].isdigit() else None


def signed_run(key: SigningKey, origin: str, stream: str, values: list[str], deps=(), start: int = 1):
    """A run of register writes in one stream (entity: the stream), as a station signs and sends it."""
    events, chain = [], GENESIS
    for seq, value in enumerate(values, start):
        event = make_event(
            origin=origin,
            stream=stream,
            seq=seq,
            hlc=(1_795_000_000_000 + seq) << 16,
            type=WRITE,
            entity=stream,
            payload={"value": value},
            deps=list(deps) if seq == start else [events[-1].eid],
        )
        chain = link(chain, event.eid)
        events.append(event)
    head = sign_head(key, origin=origin, stream=stream, seq=seq, chain=chain, signed_at=1, expires_at_ms=2**41)
    return head, [e.raw for e in events], events


def _relay(log, runs):
    """One relay applied on a thread of its own, as a county's push is at the city."""
    applied = threading.Event()

    def apply():
        try:
            log.ingest_runs([(head, raws) for head, raws, _ in runs])
            applied.set()
        finally:
            release()

    thread = threading.Thread(target=apply, daemon=True)
    thread.start()
    return thread, applied


@pytest.fixture
def city(pg, make_log, signing_key):
    keys = {origin: SigningKey.generate() for origin in ("i-a", "i-b")}
    projection = ConfinedRegister()
    log = make_log(
        "i-city",
        signing_key,
        {origin: key.verifying_key for origin, key in keys.items()},
        registry=Registry((projection,)),
        area_of=_county,
    )
    return log, keys, projection


def test_a_city_applies_two_counties_relays_at_once_and_a_reader_of_arrivals_misses_none(city):
    """County b's relays are applied while county a's is stopped mid-apply, with a reader following the log
    throughout. (The interleaving in which a reader would pass over an event, a first writer's events stored
    before a second's and committed after them, is the test above.)"""
    log, keys, projection = city
    slow = signed_run(keys["i-a"], "i-a", "330102001001", ["a1", "wait", "a3"])
    fast = [signed_run(keys["i-b"], "i-b", f"33010300100{n}", [f"b{n}", f"b{n}+"]) for n in range(1, 4)]
    seen: list[str] = []
    stop = threading.Event()

    def read_arrivals():  # as a pull, the watch or the province's outbox follows the log
        cursor = 0
        while True:
            ended = stop.is_set()
            for record in log.events_after(cursor, 100):
                seen.append(record.eid)
                cursor = record.arrival
            release()
            if ended:
                return
            stop.wait(0.01)

    reader = threading.Thread(target=read_arrivals, daemon=True)
    reader.start()
    slow_thread, slow_applied = _relay(log, [slow])
    assert projection.inside.wait(WAIT_S)
    fast_thread, fast_applied = _relay(log, fast)
    assert fast_applied.wait(WAIT_S), "one county's relay waited for another county's"
    assert not slow_applied.is_set()
    projection.go.set()
    for thread in (slow_thread, fast_thread):
        thread.join(WAIT_S)
    assert slow_applied.is_set()
    stop.set()
    reader.join(WAIT_S)
    stored = {eid for (eid,) in EventRecord.select(EventRecord.eid).tuples()}
    assert len(stored) == 9 and sorted(seen) == sorted(stored), "the reader passed over an event, or read one twice"
    assert state() == {
        "330102001001": ["a1", "wait", "a3"],
        **{f"33010300100{n}": [f"b{n}", f"b{n}+"] for n in range(1, 4)},
    }


def test_a_relay_that_releases_an_event_of_another_area_applies_holding_the_whole_log(city):
    """An event of county b waiting for one of county a (a dep a station may name, honest or not) is applied by
    a's relay: with b's rows written meanwhile by b's own writer, two transactions would write one row."""
    log, keys, _ = city
    awaited = signed_run(keys["i-a"], "i-a", "330102001001", ["a1"])
    waiting = signed_run(keys["i-b"], "i-b", "330103001001", ["b1"], deps=[awaited[2][0].eid])
    log.ingest_runs([waiting[:2]])
    release()
    assert state() == {}
    b_writer = Writer(("330103",))
    assert b_writer.done.wait(WAIT_S)
    thread, applied = _relay(log, [awaited])
    assert not applied.wait(STILL_WAITING_S), "county a's relay applied county b's event while b's writer held b"
    b_writer.end()
    thread.join(WAIT_S)
    assert applied.is_set()
    assert state() == {"330102001001": ["a1"], "330103001001": ["b1"]}
