"""Property tests of the verifier: the untouched chain always verifies; any tampering,
reordering, gap, replay, fork or wrong key is caught and named."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.chains import build_chain
from sync.chain import GENESIS, sign_head, verify_batch, verify_chain
from sync.errors import ChainError, GapError
from sync.event import make_event
from sync.keys import ED25519, SigningKey

KEY = SigningKey.generate()
OTHER = SigningKey.generate()

payloads = st.lists(
    st.fixed_dictionaries({"name": st.text(max_size=12), "n": st.integers(-(2**40), 2**40)}), min_size=2, max_size=12
)


def raws_of(events):
    return [e.raw for e in events]


@given(payloads)
def test_an_untouched_chain_always_verifies(items):
    events, head = build_chain(KEY, items)
    verified = verify_batch(raws_of(events), head, KEY.verifying_key)
    assert [v.event.eid for v in verified] == [e.eid for e in events]
    assert verified[-1].chain == head.chain


@given(payloads, st.data())
def test_any_single_byte_change_in_any_event_is_refused(items, data):
    events, head = build_chain(KEY, items)
    raws = raws_of(events)
    index = data.draw(st.integers(0, len(raws) - 1))
    position = data.draw(st.integers(0, len(raws[index]) - 1))
    flip = data.draw(st.integers(1, 255))
    changed = bytearray(raws[index])
    changed[position] ^= flip
    raws[index] = bytes(changed)
    with pytest.raises(ChainError):
        verify_batch(raws, head, KEY.verifying_key)


@given(payloads, st.data())
def test_any_single_byte_change_in_the_signed_head_is_refused(items, data):
    events, head = build_chain(KEY, items)
    field = data.draw(st.sampled_from(["body", "signature"]))
    original = getattr(head, field)
    position = data.draw(st.integers(0, len(original) - 1))
    changed = bytearray(original)
    changed[position] ^= data.draw(st.integers(1, 255))
    tampered = head.__class__(**{**head.__dict__, field: bytes(changed)})
    with pytest.raises(ChainError):
        verify_batch(raws_of(events), tampered, KEY.verifying_key)


@given(payloads, st.data())
def test_a_dropped_event_is_refused(items, data):
    events, head = build_chain(KEY, items)
    index = data.draw(st.integers(0, len(events) - 1))
    del events[index]
    with pytest.raises(ChainError) as refused:
        verify_chain(events, head, KEY.verifying_key)
    assert refused.value.code in {"gap", "out_of_order", "head_mismatch"}


@given(payloads, st.data())
def test_a_swapped_pair_is_refused(items, data):
    events, head = build_chain(KEY, items)
    i = data.draw(st.integers(0, len(events) - 2))
    events[i], events[i + 1] = events[i + 1], events[i]
    with pytest.raises(ChainError) as refused:
        verify_chain(events, head, KEY.verifying_key)
    assert refused.value.code in {"gap", "out_of_order"}


@given(payloads, st.data())
def test_a_replayed_event_inside_a_batch_is_refused(items, data):
    events, head = build_chain(KEY, items)
    i = data.draw(st.integers(0, len(events) - 1))
    events.insert(data.draw(st.integers(i + 1, len(events))), events[i])
    with pytest.raises(ChainError) as refused:
        verify_chain(events, head, KEY.verifying_key)
    assert refused.value.code in {"out_of_order", "head_mismatch"}


@given(payloads, st.data())
def test_a_fork_two_events_with_the_same_seq_is_refused(items, data):
    events, head = build_chain(KEY, items)
    i = data.draw(st.integers(0, len(events) - 1))
    original = events[i]
    twin = make_event(
        origin=original.origin,
        stream=original.stream,
        seq=original.seq,
        hlc=original.hlc,
        type=original.type,
        entity=original.entity,
        payload={"forged": True},
    )
    # Either the twin replaces the original (the signed chain no longer matches) or sits beside it.
    if data.draw(st.booleans()):
        events[i] = twin
    else:
        events.insert(i + 1, twin)
    with pytest.raises(ChainError):
        verify_chain(events, head, KEY.verifying_key)


@given(payloads)
def test_a_chain_signed_with_the_wrong_key_is_refused(items):
    events, head = build_chain(OTHER, items)
    with pytest.raises(ChainError) as refused:
        verify_chain(events, head, KEY.verifying_key)
    assert refused.value.code == "bad_signature"


@given(payloads, st.integers(1, 5))
def test_a_continuation_verifies_against_what_is_held_and_a_gap_names_it(items, held):
    events, head = build_chain(KEY, items)
    held = min(held, len(events) - 1)
    held_chain = verify_chain(events[:held], _head_at(events, held), KEY.verifying_key)[-1].chain
    verify_chain(events[held:], head, KEY.verifying_key, held_seq=held, held_chain=held_chain)
    if held + 1 < len(events):
        with pytest.raises(GapError) as refused:
            verify_chain(events[held + 1 :], head, KEY.verifying_key, held_seq=held, held_chain=held_chain)
        assert refused.value.held_seq == held


def _head_at(events, seq):
    from sync.chain import link

    chain = GENESIS
    for event in events[:seq]:
        chain = link(chain, event.eid)
    return sign_head(
        KEY, origin=events[0].origin, stream=events[0].stream, seq=seq, chain=chain, signed_at=1, expires_at_ms=2
    )


def test_the_algorithm_comes_from_the_trusted_key_not_the_message():
    """An Ed25519 signature cannot pass for a key trusted as ECDSA: no downgrade by data."""
    ed = SigningKey.generate(ED25519)
    events, head = build_chain(ed, [{"a": 1}])
    with pytest.raises(ChainError) as refused:
        verify_chain(events, head, KEY.verifying_key)
    assert refused.value.code == "bad_signature"
    verify_chain(events, head, ed.verifying_key)


def test_an_empty_batch_under_a_head_ahead_of_what_is_held_is_a_gap_naming_the_held_seq():
    events, head = build_chain(KEY, [{"a": 1}, {"a": 2}])
    with pytest.raises(GapError) as refused:
        verify_chain([], head, KEY.verifying_key)
    assert refused.value.held_seq == 0


@pytest.mark.parametrize(
    "field, value",
    [("v", True), ("v", 1.0), ("seq", 5.0), ("seq", 2**63), ("chain", "xyz"), ("origin", "a b"), ("signed_at", "1")],
)
def test_a_signed_head_with_a_field_of_the_wrong_type_is_refused_before_any_signature_check(field, value):
    import json

    from sync.chain import parse_head
    from sync.errors import EncodingError

    _, head = build_chain(KEY, [{"a": 1}])
    fields = json.loads(head.body)
    fields[field] = value
    body = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    with pytest.raises(EncodingError):
        parse_head(body, head.signature)
