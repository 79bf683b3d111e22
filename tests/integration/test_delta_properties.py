"""Whatever happens to a batch on the way — a byte changed, events reordered, dropped or replayed —
the receiver applies exactly the untouched continuation of what it holds, or refuses the batch
and is left as it was."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.register import WRITE
from storage.database import db
from storage.models import EventRecord, SignedHeadRecord, StreamHead
from sync import delta
from sync.batch import Batch, BatchError, decode_batch, encode_batch
from sync.chain import GENESIS, link, sign_head
from sync.errors import SyncError
from sync.event import make_event
from sync.keys import SigningKey

REMOTE = "i-remote"
LATER = "reg.later"  # a type the registry does not know: deferred, no projection runs
_streams = itertools.count()


@pytest.fixture(scope="module")
def remote_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def hub(migrated, make_log, signing_key, remote_key):
    return make_log("i-hub", signing_key, {REMOTE: remote_key.verifying_key})


def runs_of(key, stream: str, count: int, heads: set[int], type_: str = WRITE, values: dict | None = None) -> list:
    """`count` events of one stream as runs, each ending at a signed head (the last seq always is one);
    `values` gives some seqs another value than their number."""
    runs, raws, chain = [], [], GENESIS
    for seq in range(1, count + 1):
        event = make_event(
            origin=REMOTE,
            stream=stream,
            seq=seq,
            hlc=seq,
            type=type_,
            entity=f"{stream}:{seq % 3}",
            payload={"value": (values or {}).get(seq, str(seq))},
        )
        chain = link(chain, event.eid)
        raws.append(event.raw)
        if seq in heads or seq == count:
            head = sign_head(key, origin=REMOTE, stream=stream, seq=seq, chain=chain, signed_at=1, expires_at_ms=2**40)
            runs.append((head, tuple(raws)))
            raws = []
    return runs


def snapshot() -> tuple:
    return (
        EventRecord.select().count(),
        sorted((h.origin, h.stream, h.seq, h.chain) for h in StreamHead.select()),
        SignedHeadRecord.select().count(),
    )


def held(stream: str) -> int:
    row = StreamHead.get_or_none(origin=REMOTE, stream=stream)
    return row.seq if row else 0


MUTATIONS = ("flip", "swap", "drop", "none")


@given(
    count=st.integers(2, 12),
    heads=st.sets(st.integers(1, 12), max_size=4),
    already=st.integers(0, 12),
    mutation=st.sampled_from(MUTATIONS),
    where=st.integers(0, 10_000),
)
def test_a_tampered_reordered_gapped_or_replayed_batch_is_caught(
    hub, remote_key, count, heads, already, mutation, where
):
    stream = f"p{next(_streams)}"
    runs = runs_of(remote_key, stream, count, heads)
    # The receiver already holds a prefix of the stream (up to a head), so part of the batch is a replay.
    prefix = [run for run in runs if run[0].seq <= already]
    if prefix:
        delta.apply(hub, Batch(0, tuple(prefix)))
    before, holds = snapshot(), held(stream)
    sent = [raw for _, raws in runs for raw in raws]
    wire = _mutate(encode_batch(Batch(5, tuple(runs))), sent, mutation, where)
    try:
        receipt = delta.apply(hub, decode_batch(wire))
    except (SyncError, BatchError):
        assert mutation != "none"
        assert snapshot() == before  # refused whole: nothing written
        return
    # Accepted: it must be the untouched stream, applied once; a replayed prefix changed nothing.
    assert held(stream) == count
    assert receipt.replayed <= holds and receipt.applied == count - holds
    assert EventRecord.select().where(EventRecord.stream == stream).count() == count
    assert [
        bytes(r.body) for r in EventRecord.select().where(EventRecord.stream == stream).order_by(EventRecord.seq)
    ] == sent


def _mutate(wire: bytes, sent: list[bytes], mutation: str, where: int) -> bytes:
    """Change the events' part of the frame: the manifest's cursor is the link's, not the author's."""
    body_at = wire.index(b"\n") + 1
    events = wire[body_at:]
    if mutation == "flip":
        i = where % len(events)
        return wire[:body_at] + events[:i] + bytes([events[i] ^ 0x01]) + events[i + 1 :]
    if mutation in ("swap", "drop") and len(sent) >= 2:
        i = where % (len(sent) - 1)
        if mutation == "swap":
            if sent[i] == sent[i + 1]:
                return wire
            reordered = sent[:i] + [sent[i + 1], sent[i]] + sent[i + 2 :]
        else:
            reordered = sent[:i] + sent[i + 1 :]
            return _reframe(wire, reordered)
        return wire[:body_at] + b"".join(reordered) if _same_sizes(sent, reordered) else _reframe(wire, reordered)
    return wire


def _same_sizes(a: list[bytes], b: list[bytes]) -> bool:
    return [len(x) for x in a] == [len(x) for x in b]


def _reframe(wire: bytes, raws: list[bytes]) -> bytes:
    """The same runs and heads, with these events in them (one dropped: the last run is one shorter)."""
    batch = decode_batch(wire)
    out, it = [], iter(raws)
    for i, (head, run) in enumerate(batch.runs):
        n = len(run) - (1 if i == len(batch.runs) - 1 and len(raws) < sum(len(r) for _, r in batch.runs) else 0)
        out.append((head, tuple(next(it) for _ in range(n))))
    return encode_batch(Batch(batch.cursor, tuple(out), batch.more))


@given(
    counts=st.lists(st.integers(1, 8), min_size=1, max_size=4),
    heads=st.sets(st.integers(1, 8), max_size=3),
    order=st.randoms(use_true_random=False),
    resend=st.booleans(),
)
def test_a_relay_of_many_streams_applies_each_as_its_own_runs_would(hub, remote_key, counts, heads, order, resend):
    """A relay interleaves the runs of many streams (each stream's in order) and may send one again; applied
    together they leave what applying each run alone would: every stream whole, each event once."""
    streams = {f"r{next(_streams)}": count for count in counts}
    queues = {stream: runs_of(remote_key, stream, count, heads) for stream, count in streams.items()}
    batch = []
    while any(queues.values()):
        stream = order.choice(sorted(s for s, q in queues.items() if q))
        batch.append(queues[stream].pop(0))
    if resend:  # a run already in the batch, again after it (a relay that was cut and resent)
        batch.append(batch[order.randrange(len(batch))])
    receipt = delta.apply(hub, Batch(0, tuple(batch)))
    for stream, count in streams.items():
        assert held(stream) == count
        assert EventRecord.select().where(EventRecord.stream == stream).count() == count
    assert receipt.applied == sum(counts)
    assert receipt.replayed == (len(batch[-1][1]) if resend else 0)


def test_a_relay_asks_the_database_per_batch_not_per_run(hub, remote_key, monkeypatch):
    """Ten times the streams in a relay cost no more statements: a city applies what ten counties relay,
    a few events of each of thousands of stations, and a dozen round trips per run held its one writer.
    (The events are of a type this version defers, so that only the log's own statements are counted.)"""
    seen = []
    cursor = db.obj.cursor
    monkeypatch.setattr(db.obj, "cursor", lambda *args, **kwargs: _Counted(cursor(*args, **kwargs), seen))

    def statements(streams: int) -> int:
        runs = [run for _ in range(streams) for run in runs_of(remote_key, f"s{next(_streams)}", 3, set(), LATER)]
        seen.clear()
        assert delta.apply(hub, Batch(0, tuple(runs))).deferred == 3 * streams
        return len(seen)

    few, many = statements(4), statements(40)
    assert many <= few + 1, (few, many)


class _Counted:
    """A database cursor that notes each statement it is given (an `executemany` counts once)."""

    def __init__(self, cursor, seen: list):
        self._cursor, self._seen = cursor, seen

    def execute(self, sql, params=None):
        self._seen.append(sql)
        return self._cursor.execute(sql, params) if params is not None else self._cursor.execute(sql)

    def executemany(self, sql, rows):
        self._seen.append(sql)
        return self._cursor.executemany(sql, rows)

    def __iter__(self):
        return iter(self._cursor)

    def __getattr__(self, name):
        return getattr(self._cursor, name)


def test_a_refusal_in_one_run_of_a_relay_quarantines_that_event_alone(hub, remote_key):
    """The runs of a relay are settled together optimistically; a projection refusing one event undoes them
    all, and they are settled again run by run: the other runs, and that run's other events, still apply."""
    first, second = f"q{next(_streams)}", f"q{next(_streams)}"
    runs = runs_of(remote_key, first, 3, set()) + runs_of(remote_key, second, 3, set(), values={2: "bad"})
    receipt = delta.apply(hub, Batch(0, tuple(runs)))
    assert (receipt.applied, receipt.quarantined) == (5, 1)
    statuses = dict(
        EventRecord.select(EventRecord.seq, EventRecord.status).where(EventRecord.stream == second).tuples()
    )
    assert statuses == {1: "applied", 2: "quarantined", 3: "applied"}
    assert held(first) == held(second) == 3
