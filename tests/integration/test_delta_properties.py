"""Whatever happens to a batch on the way — a byte changed, events reordered, dropped or replayed —
the receiver applies exactly the untouched continuation of what it holds, or refuses the batch
and is left as it was."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.register import WRITE
from storage.models import EventRecord, SignedHeadRecord, StreamHead
from sync import delta
from sync.batch import Batch, BatchError, decode_batch, encode_batch
from sync.chain import GENESIS, link, sign_head
from sync.errors import SyncError
from sync.event import make_event
from sync.keys import SigningKey

REMOTE = "i-remote"
_streams = itertools.count()


@pytest.fixture(scope="module")
def remote_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def hub(migrated, make_log, signing_key, remote_key):
    return make_log("i-hub", signing_key, {REMOTE: remote_key.verifying_key})


def runs_of(key, stream: str, count: int, heads: set[int]) -> list:
    """`count` events of one stream as runs, each ending at a signed head (the last seq always is one)."""
    runs, raws, chain = [], [], GENESIS
    for seq in range(1, count + 1):
        event = make_event(
            origin=REMOTE,
            stream=stream,
            seq=seq,
            hlc=seq,
            type=WRITE,
            entity=f"{stream}:{seq % 3}",
            payload={"value": str(seq)},
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
