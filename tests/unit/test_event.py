"""sync/event.py: the event envelope and its exact bytes."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync import canonical
from sync.errors import EncodingError
from sync.event import PROTOCOL_VERSION, SEPARATOR, Event, eid_of, make_event, parse_event

DEP_A = "a" * 64
DEP_B = "b" * 64
DEP_C = "0123456789abcdef" * 4


def fields(**changes) -> dict:
    base = {
        "origin": "i-511302001001-1",
        "stream": "511302001001",
        "seq": 1,
        "hlc": 117_637_120_000_000_000,
        "type": "application.filed",
        "entity": "app/511302001001-0001",
        "payload": {"service": "低保申请", "count": 2},
        "deps": (),
    }
    base.update(changes)
    return base


def header(**changes) -> dict:
    base = {
        "v": PROTOCOL_VERSION,
        "origin": "i-1",
        "stream": "s",
        "seq": 1,
        "hlc": 5,
        "deps": [],
        "type": "t",
        "entity": "e",
    }
    base.update(changes)
    return base


def raw_of(head: dict, payload: bytes = b"{}") -> bytes:
    return json.dumps(head, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() + b"\n" + payload


def test_make_event_writes_a_canonical_header_a_newline_and_a_canonical_payload():
    event = make_event(**fields(deps=[DEP_A]))
    head, payload = event.raw.split(SEPARATOR)
    assert canonical.decode(head) == {
        "v": 1,
        "origin": "i-511302001001-1",
        "stream": "511302001001",
        "seq": 1,
        "hlc": 117_637_120_000_000_000,
        "deps": [DEP_A],
        "type": "application.filed",
        "entity": "app/511302001001-0001",
    }
    assert head == canonical.encode(canonical.decode(head))
    assert payload == canonical.encode({"service": "低保申请", "count": 2})
    assert event.raw.count(SEPARATOR) == 1


def test_eid_is_the_sha256_of_the_raw_bytes():
    event = make_event(**fields())
    assert event.eid == hashlib.sha256(event.raw).hexdigest() == eid_of(event.raw)


def test_parse_of_made_bytes_gives_the_same_event_and_keeps_the_bytes():
    made = make_event(**fields(deps=[DEP_B, DEP_A]))
    parsed = parse_event(made.raw)
    assert parsed == made
    assert parsed.raw is made.raw
    assert parsed.eid == hashlib.sha256(made.raw).hexdigest()
    assert parsed.key == ("i-511302001001-1", "511302001001", 1)
    assert parsed.payload == {"service": "低保申请", "count": 2}


def test_parse_keeps_received_bytes_unchanged_even_when_not_in_canonical_form():
    # Whoever signed the bytes fixed their form: they are hashed as received, never re-encoded.
    raw = b'{ "v":1, "origin":"i-1", "stream":"s", "seq":1, "hlc":5, "deps":[], "type":"t", "entity":"e" }\n{ }'
    event = parse_event(raw)
    assert event.raw == raw
    assert event.eid == hashlib.sha256(raw).hexdigest()


Name = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._:/-]{0,40}\Z")
Eid = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
Payload = st.dictionaries(
    st.text(max_size=8), st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8), max_size=5
)


@settings(deadline=None)
@given(
    origin=Name,
    stream=Name,
    type_=Name,
    entity=Name,
    seq=st.integers(min_value=1, max_value=2**63 - 1),
    hlc=st.integers(min_value=0, max_value=2**63 - 1),
    deps=st.lists(Eid, max_size=4),
    payload=Payload,
)
def test_make_then_parse_round_trips_any_valid_event(origin, stream, type_, entity, seq, hlc, deps, payload):
    made = make_event(
        origin=origin, stream=stream, seq=seq, hlc=hlc, type=type_, entity=entity, payload=payload, deps=deps
    )
    parsed = parse_event(made.raw)
    assert parsed == made
    assert parsed.deps == tuple(sorted(set(deps)))
    assert parsed.payload == payload
    assert parsed.eid == hashlib.sha256(made.raw).hexdigest()


def test_make_event_sorts_and_deduplicates_deps():
    event = make_event(**fields(deps=[DEP_C, DEP_B, DEP_A, DEP_B]))
    assert event.deps == (DEP_C, DEP_A, DEP_B)
    assert f'"deps":["{DEP_C}","{DEP_A}","{DEP_B}"]'.encode() in event.raw


def test_the_same_event_made_with_deps_in_another_order_has_the_same_eid():
    assert make_event(**fields(deps=[DEP_A, DEP_B])).eid == make_event(**fields(deps=(DEP_B, DEP_A, DEP_A))).eid


def test_any_change_of_field_changes_the_eid():
    base = make_event(**fields()).eid
    for change in (
        {"seq": 2},
        {"hlc": 1},
        {"origin": "i-2"},
        {"stream": "all"},
        {"type": "x"},
        {"entity": "y"},
        {"deps": [DEP_A]},
        {"payload": {}},
    ):
        assert make_event(**fields(**change)).eid != base, change


@pytest.mark.parametrize("name", ["origin", "stream", "type", "entity"])
@pytest.mark.parametrize(
    "bad",
    ["", "-leading-dash", ".hidden", "has space", "村", "a" * 129, "tab\there", "semi;colon", "a\nb", 7, None],
)
def test_make_event_refuses_a_bad_name(name, bad):
    with pytest.raises(EncodingError, match=f"event {name}"):
        make_event(**fields(**{name: bad}))


@pytest.mark.parametrize("name", ["origin", "stream", "type", "entity"])
def test_make_event_refuses_a_name_with_a_trailing_newline(name):
    # `$` in a Python regex also matches before a final newline: names must still be refused.
    with pytest.raises(EncodingError):
        make_event(**fields(**{name: "app-1\n"}))


def test_names_may_be_128_characters_but_not_more():
    make_event(**fields(entity="a" * 128))
    with pytest.raises(EncodingError):
        make_event(**fields(entity="a" * 129))


@pytest.mark.parametrize("seq", [0, -1, True, "1", 1.0, None])
def test_make_event_refuses_a_seq_that_is_not_a_positive_integer(seq):
    with pytest.raises(EncodingError, match="seq"):
        make_event(**fields(seq=seq))


@pytest.mark.parametrize("hlc", [-1, "5", 5.0, None, False])
def test_make_event_refuses_an_hlc_that_is_not_a_non_negative_integer(hlc):
    with pytest.raises(EncodingError, match="hlc"):
        make_event(**fields(hlc=hlc))


def test_make_event_refuses_an_hlc_beyond_64_bits():
    with pytest.raises(EncodingError):
        make_event(**fields(hlc=2**63))


@pytest.mark.parametrize("deps", [["abc"], [DEP_A.upper()], [DEP_A + "0"], [DEP_A + "\n"], "not-a-list"])
def test_make_event_refuses_deps_that_are_not_event_ids(deps):
    with pytest.raises(EncodingError):
        make_event(**fields(deps=deps))


@pytest.mark.parametrize("payload", [[1, 2], "text", None, 3])
def test_make_event_refuses_a_payload_that_is_not_an_object(payload):
    with pytest.raises(EncodingError, match="payload"):
        make_event(**fields(payload=payload))


def test_make_event_refuses_a_payload_with_no_canonical_form():
    with pytest.raises(EncodingError, match=r"\$\.amount"):
        make_event(**fields(payload={"amount": 1.5}))


def test_parse_accepts_bytes_built_by_hand_in_canonical_form():
    event = parse_event(raw_of(header(deps=[DEP_A, DEP_B])))
    assert event.deps == (DEP_A, DEP_B)
    assert isinstance(event, Event)


@pytest.mark.parametrize(
    "head",
    [
        header(extra=1),
        {k: v for k, v in header().items() if k != "entity"},
        {k: v for k, v in header().items() if k != "v"},
        {**{k: v for k, v in header().items() if k != "deps"}, "dep": []},
    ],
)
def test_parse_refuses_a_header_with_unknown_or_missing_fields(head):
    with pytest.raises(EncodingError, match="fields"):
        parse_event(raw_of(head))


@pytest.mark.parametrize("version", [0, 2, PROTOCOL_VERSION + 1, "1", None])
def test_parse_refuses_an_unsupported_protocol_version(version):
    with pytest.raises(EncodingError, match="version"):
        parse_event(raw_of(header(v=version)))


@pytest.mark.parametrize("version", [True, 1.0])
def test_parse_refuses_a_version_that_only_equals_one_in_python(version):
    # `true` and `1.0` are not the integer 1: accepting them gives the same event a second byte form and eid.
    with pytest.raises(EncodingError):
        parse_event(raw_of(header(v=version)))


@pytest.mark.parametrize("seq", [0, -3, 1.0, "1", True, None])
def test_parse_refuses_a_seq_that_is_not_a_positive_integer(seq):
    with pytest.raises(EncodingError, match="seq"):
        parse_event(raw_of(header(seq=seq)))


@pytest.mark.parametrize("hlc", [-1, 5.0, "5", None, [5], False])
def test_parse_refuses_a_non_integer_or_negative_hlc(hlc):
    with pytest.raises(EncodingError, match="hlc"):
        parse_event(raw_of(header(hlc=hlc)))


@pytest.mark.parametrize("field", ["seq", "hlc"])
@pytest.mark.parametrize("value", [2**63, 2**64 - 1])
def test_parse_refuses_a_seq_or_hlc_beyond_signed_64_bits(field, value):
    # canonical.encode refuses these; a received event must not carry what no node may write.
    with pytest.raises(EncodingError):
        parse_event(raw_of(header(**{field: value})))


@pytest.mark.parametrize("name", ["origin", "stream", "type", "entity"])
@pytest.mark.parametrize("bad", ["", "bad name", "x" * 129, 1, None, ["e"]])
def test_parse_refuses_bad_names(name, bad):
    with pytest.raises(EncodingError, match=f"event {name}"):
        parse_event(raw_of(header(**{name: bad})))


def test_parse_refuses_bytes_without_the_newline_separator():
    raw = make_event(**fields()).raw.replace(SEPARATOR, b" ")
    with pytest.raises(EncodingError, match="newline"):
        parse_event(raw)


@pytest.mark.parametrize("head", [b"", b"[]", b"1", b'"event"', b"null", b"{not json"])
def test_parse_refuses_a_header_that_is_not_a_json_object(head):
    with pytest.raises(EncodingError):
        parse_event(head + b"\n{}")


@pytest.mark.parametrize(
    "deps",
    [[DEP_B, DEP_A], [DEP_A, DEP_A], ["short"], [DEP_A.upper()], [1], DEP_A, None, {"a": DEP_A}],
)
def test_parse_refuses_deps_unsorted_duplicated_or_not_event_ids(deps):
    with pytest.raises(EncodingError, match="deps"):
        parse_event(raw_of(header(deps=deps)))


def test_parse_does_not_read_the_payload_until_asked():
    raw = raw_of(header(), payload=b"{this is not json")
    event = parse_event(raw)
    assert event.eid == hashlib.sha256(raw).hexdigest()
    with pytest.raises(EncodingError):
        _ = event.payload


@pytest.mark.parametrize("payload", [b"[1]", b'"x"', b"null", b"7"])
def test_payload_that_is_not_an_object_is_refused_when_read(payload):
    event = parse_event(raw_of(header(), payload=payload))
    with pytest.raises(EncodingError, match="payload"):
        _ = event.payload


def test_payload_is_parsed_afresh_at_each_access_so_callers_cannot_change_the_event():
    event = make_event(**fields(payload={"n": 1}))
    first = event.payload
    first["n"] = 99
    assert event.payload == {"n": 1}
    assert first is not event.payload


def test_payload_may_itself_contain_escaped_newlines():
    event = make_event(**fields(payload={"note": "line one\nline two"}))
    assert event.raw.count(SEPARATOR) == 1
    assert parse_event(event.raw).payload == {"note": "line one\nline two"}
