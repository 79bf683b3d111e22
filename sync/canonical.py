"""The one canonical byte encoding of everything OneTrip signs or hashes.

A restricted JSON: UTF-8, object keys sorted by code point, no whitespace, no
floats (their text form differs between languages), integers within signed
64 bits, strings as-is (only `"`, `\\` and control characters escaped). The same
value gives the same bytes on every machine and every Python version we support:
byte for byte what `json.dumps(v, sort_keys=True, separators=(",", ":"),
ensure_ascii=False)` writes, which a property test holds. orjson does the work
because events are encoded and parsed on every hot path (about 4x the stdlib).
"""

from __future__ import annotations

from typing import Any

import orjson

from .errors import EncodingError

INT_MIN = -(2**63)
INT_MAX = 2**63 - 1


def _plain(value: Any) -> bool:
    """The fast check on every encode: only JSON types, string keys, 64-bit ints, no floats."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is int:
            if not INT_MIN <= item <= INT_MAX:
                return False
        elif kind is dict:
            if not all(type(key) is str for key in item):
                return False
            stack.extend(item.values())
        elif kind is list or kind is tuple:
            stack.extend(item)
        else:
            return False
    return True


def _problem(value: Any, path: str = "$") -> str | None:
    """The first reason `value` has no canonical form, with where it is; None if it has one."""
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return None
    if kind is int:
        return None if INT_MIN <= value <= INT_MAX else f"{path}: integer outside 64 bits"
    if kind is float:
        return f"{path}: floats are not allowed, use an integer or a string"
    if kind is list or kind is tuple:
        return next(filter(None, (_problem(item, f"{path}[{i}]") for i, item in enumerate(value))), None)
    if kind is dict:
        if not all(type(key) is str for key in value):
            return f"{path}: object keys must be strings"
        return next(filter(None, (_problem(item, f"{path}.{key}") for key, item in value.items())), None)
    return f"{path}: {kind.__name__} cannot be encoded"


def encode(value: Any) -> bytes:
    """Return the canonical bytes of a JSON-like value, refusing what has no canonical form."""
    try:
        if not _plain(value) and (problem := _problem(value)):
            raise EncodingError(problem)
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except (RecursionError, orjson.JSONEncodeError) as exc:  # too deep, or a lone surrogate
        raise EncodingError(f"value cannot be encoded: {exc}") from exc


def decode(data: bytes) -> Any:
    """Parse received bytes. Nothing is re-encoded: signed data is verified by hashing the
    bytes as received, so whoever signed them fixed their one byte form.

    Floats are not refused here (that would cost a walk of every value); each
    reader checks the types of the fields it uses, as the event header does.
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise EncodingError(f"not valid JSON: {exc}") from exc
