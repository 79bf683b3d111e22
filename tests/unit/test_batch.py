"""Planning a batch (cut only at signed heads, bounded, the cursor never past an unsent event) and
its framing on the wire."""

from __future__ import annotations

import pytest

from sync.batch import Batch, BatchError, Limits, Stored, decode_batch, encode_batch, plan
from sync.chain import sign_head
from sync.keys import SigningKey


def rows(stream: str, seqs, first_arrival: int, size: int = 100) -> list[Stored]:
    return [Stored(first_arrival + i, "i-a", stream, seq, size) for i, seq in enumerate(seqs)]


def test_a_batch_ends_each_stream_at_a_signed_head_and_the_cursor_stops_before_the_unsigned_tail():
    stored = rows("s", range(1, 8), 11)  # arrivals 11..17, seqs 1..7
    runs, cursor = plan(stored, {("i-a", "s"): [3, 5]}, cursor=10, scanned_to=17, limits=Limits())
    assert [(r.last_seq, r.arrivals) for r in runs] == [(3, (11, 12, 13)), (5, (14, 15))]
    assert cursor == 15  # seq 6 (arrival 16) is not covered yet: it goes in a later batch


def test_a_stream_cut_short_holds_back_every_stream_stored_after_the_cut():
    a = rows("a", range(1, 5), 1)  # arrivals 1..4, head at 2 only
    b = rows("b", range(1, 3), 5)  # arrivals 5..6, head at 2
    runs, cursor = plan(a + b, {("i-a", "a"): [2], ("i-a", "b"): [2]}, cursor=0, scanned_to=6, limits=Limits())
    assert cursor == 2 and [(r.stream, r.last_seq) for r in runs] == [("a", 2)]


def test_limits_bound_the_count_and_bytes_but_never_stall_before_the_first_head():
    stored = rows("s", range(1, 11), 1, size=1000)
    runs, cursor = plan(stored, {("i-a", "s"): [2, 4, 10]}, cursor=0, scanned_to=10, limits=Limits(max_events=5))
    assert cursor == 4 and sum(len(r.arrivals) for r in runs) == 4
    runs, cursor = plan(stored, {("i-a", "s"): [2, 4, 10]}, cursor=0, scanned_to=10, limits=Limits(max_bytes=2500))
    assert cursor == 2
    runs, cursor = plan(stored, {("i-a", "s"): [10]}, cursor=0, scanned_to=10, limits=Limits(max_events=3))
    assert cursor == 10 and len(runs[0].arrivals) == 10  # the only head is past the limit: exceed it


def test_unwanted_events_are_passed_over_and_the_cursor_moves_past_them():
    runs, cursor = plan([], {}, cursor=3, scanned_to=40, limits=Limits())
    assert runs == [] and cursor == 40


def _batch() -> Batch:
    key = SigningKey.generate()
    head = sign_head(key, origin="i-a", stream="s", seq=2, chain="ab" * 32, signed_at=1, expires_at_ms=2)
    return Batch(7, ((head, (b'{"x":1}\n{}', b'{"y":"\xe4\xb8\xad"}\n{}')),), more=True)


def test_a_batch_travels_as_the_exact_bytes_of_its_events():
    batch = _batch()
    assert decode_batch(encode_batch(batch)) == batch


@pytest.mark.parametrize("cut", [1, 10, -1])
def test_a_truncated_or_padded_batch_is_refused(cut):
    data = encode_batch(_batch())
    with pytest.raises(BatchError):
        decode_batch(data[:cut] if cut > 0 else data + b"x")
