"""sync/canonical.py: the one byte form of what is signed or hashed."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync import canonical
from sync.errors import EncodingError

INT64 = st.integers(min_value=canonical.INT_MIN, max_value=canonical.INT_MAX)
# Every code point but lone surrogates (which have no UTF-8 form): CJK, astral planes, C0/C1 controls, DEL.
TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=20)
ODD_TEXT = st.sampled_from(
    ["", "中文办件", "\U0001f600\U00020000", "\x00\x01\x1f\x7f\x80\x9f", '"\\/', "\n\r\t\b\f", "\u2028\u2029", "\ufeff"]
)
SCALARS = st.none() | st.booleans() | INT64 | TEXT | ODD_TEXT
JSON_LIKE = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(TEXT | ODD_TEXT, children, max_size=5),
    max_leaves=30,
)


def stdlib_canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@settings(deadline=None)
@given(JSON_LIKE)
def test_encode_writes_exactly_what_sorted_compact_stdlib_json_writes(value):
    assert canonical.encode(value) == stdlib_canonical(value)


@settings(deadline=None)
@given(JSON_LIKE)
def test_decode_of_encode_gives_the_value_back(value):
    assert canonical.decode(canonical.encode(value)) == value


def test_encode_sorts_keys_by_code_point_and_writes_no_whitespace():
    value = {"b": 1, "a": [1, 2], "中": None, "\U00010000": True, "\uffff": False, "Z": "x y"}
    assert canonical.encode(value) == '{"Z":"x y","a":[1,2],"b":1,"中":null,"\uffff":false,"\U00010000":true}'.encode()


def test_encode_writes_text_as_utf8_escaping_only_quotes_backslashes_and_controls():
    assert canonical.encode('中"\\\n\x01/\x7f') == '"中\\"\\\\\\n\\u0001/\x7f"'.encode()


def test_encode_gives_the_same_bytes_for_equal_dicts_built_in_different_orders():
    assert canonical.encode({"x": 1, "y": {"b": 2, "a": 3}}) == canonical.encode({"y": {"a": 3, "b": 2}, "x": 1})


def test_encode_accepts_both_ends_of_the_signed_64_bit_range():
    assert canonical.encode([canonical.INT_MIN, canonical.INT_MAX]) == b"[-9223372036854775808,9223372036854775807]"


def test_encode_writes_a_tuple_as_a_list():
    assert canonical.encode((1, "a")) == b'[1,"a"]'


@pytest.mark.parametrize(
    ("value", "where"),
    [
        (1.5, "$"),
        (0.0, "$"),
        (float("nan"), "$"),
        (float("inf"), "$"),
        ({"a": [1, 2.0]}, "$.a[1]"),
        ([{"amount": math.pi}], "$[0].amount"),
    ],
)
def test_encode_refuses_floats_naming_where_they_are(value, where):
    with pytest.raises(EncodingError) as caught:
        canonical.encode(value)
    assert str(caught.value).startswith(f"{where}:")
    assert "float" in str(caught.value)


@pytest.mark.parametrize(
    ("value", "where"),
    [
        (2**63, "$"),
        (-(2**63) - 1, "$"),
        (2**64, "$"),
        ({"n": [0, 10**30]}, "$.n[1]"),
    ],
)
def test_encode_refuses_integers_beyond_64_bits_naming_where_they_are(value, where):
    with pytest.raises(EncodingError) as caught:
        canonical.encode(value)
    assert str(caught.value).startswith(f"{where}:")
    assert "64 bits" in str(caught.value)


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ({1: "a"}, "$"),
        ({"outer": {None: 1}}, "$.outer"),
        ([{"ok": 1}, {("a", "b"): 1}], "$[1]"),
    ],
)
def test_encode_refuses_non_string_keys_naming_the_object(value, where):
    with pytest.raises(EncodingError) as caught:
        canonical.encode(value)
    assert str(caught.value) == f"{where}: object keys must be strings"


@pytest.mark.parametrize(
    ("value", "where", "kind"),
    [
        ({1, 2}, "$", "set"),
        (b"bytes", "$", "bytes"),
        ({"scan": [bytearray(b"x")]}, "$.scan[0]", "bytearray"),
        ({"when": frozenset()}, "$.when", "frozenset"),
        ([object()], "$[0]", "object"),
    ],
)
def test_encode_refuses_values_json_has_no_form_for_naming_path_and_type(value, where, kind):
    with pytest.raises(EncodingError) as caught:
        canonical.encode(value)
    assert str(caught.value) == f"{where}: {kind} cannot be encoded"


def test_encode_reports_the_first_problem_in_order():
    with pytest.raises(EncodingError) as caught:
        canonical.encode([1, {"a": 2.5}, b"x"])
    assert str(caught.value).startswith("$[1].a:")


def test_encode_refuses_a_string_with_a_lone_surrogate_with_encoding_error():
    # A lone surrogate has no UTF-8 form, so no canonical form: it must be an EncodingError like every other refusal.
    with pytest.raises(EncodingError):
        canonical.encode({"name": "\ud800"})


def test_encode_of_a_deeply_nested_value_matches_stdlib_or_is_refused_with_encoding_error():
    value: list = []
    for _ in range(300):
        value = [value]
    try:
        encoded = canonical.encode(value)
    except EncodingError:
        return
    assert encoded == stdlib_canonical(value)


@pytest.mark.parametrize(
    "data",
    [b"", b"{", b"{'a': 1}", b"[1,]", b"NaN", b"1e400", b'"\xff"', b"nul", b'{"a":1}x', b"\xef\xbb\xbf{}"],
)
def test_decode_refuses_invalid_json_with_encoding_error(data):
    with pytest.raises(EncodingError, match="not valid JSON"):
        canonical.decode(data)


def test_decode_does_not_re_encode_so_whitespace_in_received_bytes_is_fine():
    assert canonical.decode(b' { "b" : 1 , "a" : [ ] } ') == {"a": [], "b": 1}


def test_encoding_error_carries_its_stable_code():
    with pytest.raises(EncodingError) as caught:
        canonical.encode(1.0)
    assert caught.value.code == "bad_encoding"
