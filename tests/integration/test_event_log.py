"""The event log on a real database (SQLite and PostgreSQL): append, ingest, replay, gaps, forks,
pending deps, quarantine, unknown types, rebuild, and the arrival cursor."""

from __future__ import annotations

from unittest import mock

import pytest

from harness.chains import REMOTE, remote_batch
from harness.register import WRITE, state
from storage.models import EventRecord, PendingDep, StreamHead
from sync.chain import GENESIS, link, sign_head
from sync.errors import ChainError, GapError
from sync.event import eid_of, make_event
from sync.keys import SigningKey
from sync.log import APPLIED, DEFERRED, PENDING, QUARANTINED, EventLog, NotAuthorized
from sync.projection import Registry
from sync.trust import PinnedTrust


@pytest.fixture(scope="module")
def remote_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def hub(migrated, make_log, signing_key, remote_key):
    """A log that trusts the remote installation's key."""
    return make_log("i-hub", signing_key, {REMOTE: remote_key.verifying_key})


def test_append_writes_the_event_and_its_rows_in_one_transaction(event_log):
    event = event_log.append(WRITE, "e1", {"value": "a"}, stream="s")
    record = EventRecord.get(EventRecord.eid == event.eid)
    assert bytes(record.body) == event.raw
    assert record.status == APPLIED
    assert state() == {"e1": ["a"]}


def test_signing_again_with_nothing_new_reads_nothing_and_what_arrives_next_is_signed(event_log, clock):
    """A station's every round begins by signing: with nothing arrived since, and no head near half its
    lifetime, it reads no heads at all; an own event appended since, or a head growing stale, is signed."""
    event_log.append(WRITE, "e1", {"value": "a"}, stream="s")
    assert [h.seq for h in event_log.sign_heads()] == [1]
    with mock.patch.object(EventLog, "_latest_own_heads", side_effect=AssertionError("read the heads")):
        assert event_log.sign_heads() == []
    event_log.append(WRITE, "e1", {"value": "b"}, stream="s")
    assert [h.seq for h in event_log.sign_heads()] == [2]
    with event_log.transaction():  # held back, not stored yet: signed all the same
        event_log.append(WRITE, "e1", {"value": "c"}, stream="s")
        assert [h.seq for h in event_log.sign_heads()] == [3]
    clock.advance(event_log.head_ttl_ms // 2 + 1)
    assert [h.seq for h in event_log.sign_heads()] == [3]  # the same head, signed again before it expires


def test_a_failed_transaction_leaves_neither_event_nor_rows(event_log):
    with pytest.raises(RuntimeError):
        with event_log.transaction():
            event_log.append(WRITE, "e1", {"value": "a"}, stream="s")
            raise RuntimeError("power cut")
    assert EventRecord.select().count() == 0
    assert state() == {}
    event = event_log.append(WRITE, "e1", {"value": "b"}, stream="s")
    assert event.seq == 1  # the head cache did not survive the rollback


def test_appends_to_one_entity_name_what_their_author_had_seen(event_log):
    first = event_log.append(WRITE, "e1", {"value": "a"}, stream="s")
    second = event_log.append(WRITE, "e1", {"value": "b"}, stream="s")
    other = event_log.append(WRITE, "e2", {"value": "c"}, stream="s")
    assert second.deps == (first.eid,)
    assert other.deps == ()


def test_heads_are_signed_every_interval_and_on_demand(migrated, make_log, signing_key):
    log = make_log("i-local", signing_key, head_interval=3)
    for i in range(7):
        log.append(WRITE, f"e{i}", {"value": "v"}, stream="s")
    assert log.latest_head("i-local", "s").seq == 6
    log.sign_heads()
    head = log.latest_head("i-local", "s")
    assert head.seq == 7
    assert head.chain == StreamHead.get(origin="i-local", stream="s").chain


def test_a_village_key_cannot_make_an_event_its_trust_forbids(migrated, make_log, signing_key):
    class NoApprovals(PinnedTrust):
        def authorize(self, origin, stream, seq, event_type):
            return "村级站点不能作出审批决定" if event_type == WRITE else None

    log = make_log("i-local", signing_key)
    log.trust = NoApprovals({"i-local": signing_key.verifying_key})
    with pytest.raises(NotAuthorized):
        log.append(WRITE, "e1", {"value": "a"}, stream="s")
    assert EventRecord.select().count() == 0


def test_ingest_applies_a_verified_batch_and_a_replay_changes_nothing(hub, remote_key):
    raws, head, _ = remote_batch(remote_key, ["a", "b", "c"])
    receipt = hub.ingest(raws, head)
    assert (receipt.applied, receipt.held_seq) == (3, 3)
    assert state() == {"e": ["a", "b", "c"]}
    again = hub.ingest(raws, head)
    assert (again.applied, again.replayed) == (0, 3)
    assert EventRecord.select().count() == 3
    assert state() == {"e": ["a", "b", "c"]}


def test_a_batch_overlapping_what_is_held_applies_only_the_new_part(hub, remote_key):
    raws, head, _ = remote_batch(remote_key, ["a", "b", "c", "d"])
    hub.ingest(raws[:2], head_over(remote_key, raws[:2]))
    receipt = hub.ingest(raws, head)
    assert (receipt.replayed, receipt.applied) == (2, 2)
    assert state() == {"e": ["a", "b", "c", "d"]}


def head_over(key, raws, stream="s"):
    """A head signed over the first events of the remote's stream."""
    chain = GENESIS
    for raw in raws:
        chain = link(chain, eid_of(raw))
    return sign_head(key, origin=REMOTE, stream=stream, seq=len(raws), chain=chain, signed_at=1, expires_at_ms=2**40)


def test_a_gap_is_refused_with_what_the_receiver_holds(hub, remote_key):
    raws, head, _ = remote_batch(remote_key, ["a", "b", "c", "d"])
    hub.ingest(raws[:1], head_over(remote_key, raws[:1]))
    with pytest.raises(GapError) as refused:
        hub.ingest(raws[2:], head)
    assert refused.value.held_seq == 1
    assert EventRecord.select().count() == 1


def test_a_fork_is_refused_and_nothing_changes(hub, remote_key):
    raws, head, _ = remote_batch(remote_key, ["a", "b"])
    hub.ingest(raws, head)
    forged, forged_head, _ = remote_batch(remote_key, ["a", "X"])
    with pytest.raises(ChainError) as refused:
        hub.ingest(forged, forged_head)
    assert refused.value.code == "fork"
    assert state() == {"e": ["a", "b"]}


def test_a_batch_from_an_unknown_installation_is_refused(migrated, make_log, signing_key, remote_key):
    log = make_log("i-hub", signing_key)
    raws, head, _ = remote_batch(remote_key, ["a"])
    with pytest.raises(ChainError) as refused:
        log.ingest(raws, head)
    assert refused.value.code == "unknown_origin"
    assert EventRecord.select().count() == 0


def test_a_head_signed_by_another_key_is_refused_and_nothing_is_stored(hub, remote_key):
    raws, _, chain = remote_batch(remote_key, ["a", "b"])
    impostor = sign_head(
        SigningKey.generate(), origin=REMOTE, stream="s", seq=2, chain=chain, signed_at=1, expires_at_ms=2**40
    )
    with pytest.raises(ChainError) as refused:
        hub.ingest(raws, impostor)
    assert refused.value.code == "bad_signature"
    assert EventRecord.select().count() == 0


def test_an_event_whose_deps_are_missing_waits_and_applies_when_they_arrive(hub, remote_key):
    # Two streams of the remote: the second one's event depends on the first one's.
    first, first_head, _ = remote_batch(remote_key, ["a"], stream="s1")
    dep = make_event(
        origin=REMOTE, stream="s1", seq=1, hlc=(1_000 << 16) + 1, type=WRITE, entity="e", payload={"value": "a"}
    )
    second, second_head, _ = remote_batch(remote_key, ["b"], stream="s2", deps_of=lambda seq, prior: [dep.eid])
    receipt = hub.ingest(second, second_head)
    assert receipt.pending == 1
    assert state() == {}
    assert PendingDep.select().count() == 1
    receipt = hub.ingest(first, first_head)
    assert (receipt.applied, receipt.released) == (1, 1)
    assert state() == {"e": ["a", "b"]}
    assert PendingDep.select().count() == 0


def test_an_authentic_event_that_breaks_a_rule_is_quarantined_without_blocking_those_behind_it(hub, remote_key):
    raws, head, _ = remote_batch(remote_key, ["a", "bad", "c"])
    receipt = hub.ingest(raws, head)
    assert (receipt.applied, receipt.quarantined) == (2, 1)
    record = EventRecord.get(EventRecord.seq == 2)
    assert record.status == QUARANTINED and "bad" in record.reason
    assert state() == {"e": ["a", "c"]}  # the refused event's half-written row was rolled back


def test_events_of_an_unknown_type_are_kept_and_applied_after_an_upgrade(migrated, make_log, signing_key, remote_key):
    old = make_log("i-hub", signing_key, {REMOTE: remote_key.verifying_key}, registry=Registry(()))
    raws, head, _ = remote_batch(remote_key, ["a", "b"])
    receipt = old.ingest(raws, head)
    assert receipt.deferred == 2
    assert {r.status for r in EventRecord.select()} == {DEFERRED}
    upgraded = make_log("i-hub", signing_key, {REMOTE: remote_key.verifying_key})
    assert upgraded.apply_deferred() == 2
    assert state() == {"e": ["a", "b"]}
    assert {r.status for r in EventRecord.select()} == {APPLIED}


def test_rebuild_reproduces_every_projected_row_from_the_events(hub, remote_key, event_log):
    raws, head, _ = remote_batch(remote_key, ["a", "bad", "c"])
    hub.ingest(raws, head)
    hub.append(WRITE, "mine", {"value": "x"}, stream="local")
    before = state()
    from harness.register import RegisterRow

    RegisterRow.delete().execute()
    counts = hub.rebuild()
    assert state() == before
    assert counts == {APPLIED: 3, QUARANTINED: 1, DEFERRED: 0}
    assert EventRecord.select().where(EventRecord.status == PENDING).count() == 0


def test_the_arrival_cursor_returns_everything_after_a_number_in_order(event_log):
    events = [event_log.append(WRITE, f"e{i}", {"value": str(i)}, stream="s") for i in range(5)]
    first = event_log.events_after(0, 2)
    rest = event_log.events_after(first[-1].arrival, 100)
    assert [r.eid for r in first + rest] == [e.eid for e in events]
    assert event_log.events_after(rest[-1].arrival, 100) == []


def test_a_concurrent_event_that_sorts_earlier_replays_the_entity_in_causal_order(hub, remote_key):
    # Our local event on entity "e" has a later HLC than the remote's concurrent one.
    hub.clock.clock.set_ms(5_000)
    hub.append(WRITE, "e", {"value": "local"}, stream="local")
    raws, head, _ = remote_batch(remote_key, ["remote"], hlc0=1_000 << 16)
    hub.ingest(raws, head)
    assert state() == {"e": ["remote", "local"]}


def test_two_appends_to_one_entity_in_one_transaction_both_apply(event_log):
    with event_log.transaction():
        first = event_log.append(WRITE, "e1", {"value": "a"}, stream="s")
        second = event_log.append(WRITE, "e1", {"value": "b"}, stream="s")
    assert second.deps == (first.eid,)
    assert {r.status for r in EventRecord.select()} == {APPLIED}
    assert state() == {"e1": ["a", "b"]}


def test_an_authentic_event_whose_payload_the_projection_cannot_read_is_quarantined_not_blocking(hub, remote_key):
    events, chain = [], GENESIS
    for seq, payload in enumerate(({"value": "a"}, {"no value": 1}, {"value": "c"}), start=1):
        event = make_event(origin=REMOTE, stream="s", seq=seq, hlc=seq, type=WRITE, entity="e", payload=payload)
        chain = link(chain, event.eid)
        events.append(event)
    head = sign_head(remote_key, origin=REMOTE, stream="s", seq=3, chain=chain, signed_at=1, expires_at_ms=2**40)
    receipt = hub.ingest([e.raw for e in events], head)
    assert (receipt.applied, receipt.quarantined) == (2, 1)
    assert "KeyError" in EventRecord.get(EventRecord.seq == 2).reason
    assert state() == {"e": ["a", "c"]}


def test_a_batch_moves_the_clock_past_its_events_but_not_past_one_far_ahead(hub, remote_key, clock):
    """The clock follows a batch by its newest event at once; one too far ahead is left out, and said."""
    near, far = (clock.now_ms() + 60_000) << 16, (clock.now_ms() + 365 * 24 * 3600 * 1000) << 16
    events, chain = [], GENESIS
    for seq, hlc in enumerate((near, far, near + 5), start=1):
        event = make_event(origin=REMOTE, stream="s", seq=seq, hlc=hlc, type=WRITE, entity="e", payload={"value": "v"})
        chain = link(chain, event.eid)
        events.append(event)
    head = sign_head(remote_key, origin=REMOTE, stream="s", seq=3, chain=chain, signed_at=1, expires_at_ms=2**40)
    assert hub.ingest([e.raw for e in events], head).clock_ahead
    assert near + 5 < hub.clock.last < far


def test_a_batch_within_the_clock_drift_moves_the_clock_past_its_newest_event(hub, remote_key, clock):
    ahead = (clock.now_ms() + 60_000) << 16
    raws, head, _ = remote_batch(remote_key, ["a", "b", "c"], hlc0=ahead)
    assert not hub.ingest(raws, head).clock_ahead
    assert hub.clock.last > ahead + 3


def test_a_restart_does_not_adopt_a_remote_clock_far_ahead(hub, remote_key, clock):
    far = (clock.now_ms() + 365 * 24 * 3600 * 1000) << 16
    raws, head, _ = remote_batch(remote_key, ["a"], hlc0=far)
    assert hub.ingest(raws, head).clock_ahead
    hub.clock.last = 0  # a restart: the clock comes back from the log
    hub.resume()
    assert hub.clock.drift_ms() == 0
    assert hub.append(WRITE, "mine", {"value": "x"}, stream="local").hlc < far


def test_an_event_dated_days_ahead_is_held_until_our_clock_comes_near_then_applied(hub, remote_key, clock):
    """A PC two days ahead filed it: quarantined with the reason, and decided again once the day has come."""
    ahead = (clock.now_ms() + 2 * 24 * 3600 * 1000) << 16
    raws, head, _ = remote_batch(remote_key, ["a"], hlc0=ahead)
    assert hub.ingest(raws, head).quarantined == 1
    assert "比本机时钟超前" in EventRecord.get(EventRecord.origin == REMOTE).reason
    assert hub.readmit_on_time() == 1 and state() == {}  # still too far ahead: decided again, held again
    clock.advance(36 * 3600 * 1000)  # now half a day before it: near enough for any honest clock
    assert hub.readmit_on_time() == 1
    assert EventRecord.get(EventRecord.origin == REMOTE).status == APPLIED
    assert state() == {"e": ["a"]}
    assert hub.readmit_on_time() == 0
