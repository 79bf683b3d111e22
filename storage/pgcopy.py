"""Rows into PostgreSQL by binary COPY: the bulk path for the rows a batch writes (its events, the applications
its filings make), where multi-row VALUES had psycopg2 quote every value as text for the server to parse back.

In a county hub taking pushes of filings, py-spy had a quarter of the writers' lock held in `execute_values`:
half quoting the application rows, half the server parsing them. Binary COPY sends each value as its column's
own bytes; a width that does not match the column (an int4 sent as int8) is refused by the server, never
stored wrong. Each column's encoder follows from its peewee field's type, and a table with a column of
another type (`copyable` says None) is inserted as before.
"""

from __future__ import annotations

import datetime as dt
import io
import struct
from collections.abc import Callable, Iterable, Sequence
from functools import cache

import peewee as pw
from psycopg2.extensions import encodings

_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # the signature, no flags, no header extension
_TRAILER = b"\xff\xff"  # a field count of -1
_FIELDS = struct.Struct("!h").pack
_LENGTH = struct.Struct("!i").pack
_INT2, _INT4, _INT8 = (struct.Struct(f).pack for f in ("!ih", "!ii", "!iq"))
_NULL = _LENGTH(-1)
_TRUE, _FALSE = b"\x00\x00\x00\x01\x01", b"\x00\x00\x00\x01\x00"
_EPOCH_DAY = dt.date(2000, 1, 1).toordinal()  # PostgreSQL's dates and timestamps count from 2000-01-01
_EPOCH = dt.datetime(2000, 1, 1)

Encoder = Callable[[object, str], bytes]  # a value (not None) and the connection's text encoding -> its field


def _text(value, encoding: str) -> bytes:
    data = value.encode(encoding)
    return _LENGTH(len(data)) + data


def _bytea(value, encoding: str) -> bytes:
    """Bytes, a memoryview, or the `psycopg2.Binary` a BlobField's `db_value` wraps them in."""
    data = bytes(getattr(value, "adapted", value))
    return _LENGTH(len(data)) + data


def _date(value, encoding: str) -> bytes:
    if isinstance(value, str):
        value = dt.date.fromisoformat(value)
    elif isinstance(value, dt.datetime):
        value = value.date()
    return _INT4(4, value.toordinal() - _EPOCH_DAY)


def _timestamp(value, encoding: str) -> bytes:
    """A timestamp without time zone: an aware value's own wall time, as PostgreSQL keeps one given as text
    (the rows keep naive UTC)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    since = value.replace(tzinfo=None) - _EPOCH
    return _INT8(8, (since.days * 86_400 + since.seconds) * 1_000_000 + since.microseconds)


_ENCODERS: dict[str, Encoder] = {
    "VARCHAR": _text,
    "TEXT": _text,
    "CHAR": _text,
    "BLOB": _bytea,
    "SMALLINT": lambda value, encoding: _INT2(2, value),
    "INT": lambda value, encoding: _INT4(4, value),
    "AUTO": lambda value, encoding: _INT4(4, value),
    "BIGINT": lambda value, encoding: _INT8(8, value),
    "BIGAUTO": lambda value, encoding: _INT8(8, value),
    "BOOL": lambda value, encoding: _TRUE if value else _FALSE,
    "DATE": _date,
    "DATETIME": _timestamp,
}


def copyable(fields: Sequence[pw.Field]) -> tuple[Encoder, ...] | None:
    """Each column's encoder, or None if a column's type has none here (it is inserted as before)."""
    return _encoders(tuple(field.field_type for field in fields))


@cache
def _encoders(types: tuple[str, ...]) -> tuple[Encoder, ...] | None:
    encoders = tuple(_ENCODERS.get(name) for name in types)
    return None if None in encoders else encoders


def copy_rows(cursor, table: str, fields: Sequence[pw.Field], rows: Iterable[Sequence]) -> None:
    """Insert the rows (values in `fields` order, as the fields' `db_value` gives them) in one COPY, in order:
    a serial column left out numbers them as INSERTs in this order would. Every field must be `copyable`."""
    encoders = copyable(fields)
    if encoders is None:
        raise TypeError(f"{table}: a column has no binary COPY encoder")
    encoding = encodings[cursor.connection.encoding]
    out = io.BytesIO()
    out.write(_HEADER)
    count = _FIELDS(len(fields))
    for row in rows:
        out.write(count)
        for encode, value in zip(encoders, row, strict=True):
            out.write(_NULL if value is None else encode(value, encoding))
    out.write(_TRAILER)
    out.seek(0)
    columns = ", ".join(field.column_name for field in fields)
    cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT binary)", out)
