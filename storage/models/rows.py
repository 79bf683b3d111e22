"""Write-behind rows for projections' hot paths: prepared statements that insert, read and update rows, and
`deferred_inserts()`, inside which they are held back and written many per round trip. The one module that
touches peewee's internals (`_meta`, `__data__`, `_dirty`, its exception wrapper): peewee is pinned below its
next major version for it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache, lru_cache

import peewee as pw

from ..database import db, execute, is_postgres, select_in, writing
from ..pgcopy import copy_rows, copyable
from .base import BaseModel


def table_name(model: type[BaseModel]) -> str:
    """The table a model is stored in, for SQL written by hand."""
    return model._meta.table_name


def row_values(row: BaseModel) -> dict:
    """A row's values by field name, as it holds them now (what `upsert` takes to write it back whole)."""
    return dict(row.__data__)


def upsert(model: type[BaseModel], **values) -> None:
    """Insert a row or overwrite the one with the same primary key, on SQLite and PostgreSQL alike."""
    key = model._meta.primary_key
    names = list(key.field_names) if isinstance(key, pw.CompositeKey) else [key.name]
    target = [model._meta.fields[n] for n in names]
    update = {model._meta.fields[n]: v for n, v in values.items() if n not in names}
    model.insert(**values).on_conflict(conflict_target=target, update=update).execute()


def upsert_many(
    model: type[BaseModel], rows: list[dict], page: int = 200, only_if: pw.Expression | None = None
) -> None:
    """`upsert` of many rows, a page per statement; of two rows with the same key, the later one stands
    (PostgreSQL refuses one statement that updates a row twice). `only_if` (of the stored row and
    `EXCLUDED`, the one offered) keeps a stored row it is false for."""
    key = model._meta.primary_key
    names = list(key.field_names) if isinstance(key, pw.CompositeKey) else [key.name]
    unique = list({tuple(row[n] for n in names): row for row in rows}.values())
    target = [model._meta.fields[n] for n in names]
    preserve = [field for name, field in model._meta.fields.items() if name not in names]
    for start in range(0, len(unique), page):
        model.insert_many(unique[start : start + page]).on_conflict(
            conflict_target=target, preserve=preserve, where=only_if
        ).execute()


_deferred = threading.local()  # inside `deferred_inserts`: what is held back (see there), by statement and key


@contextmanager
def deferred_inserts() -> Iterator[None]:
    """Inside, `insert_row` holds rows back, `add_amounts` sums amounts per row and `update_row` holds
    changed rows; all are written at the end, many per round trip. `get_row` finds a row it read before
    (or `read_rows` read ahead) as it was last changed, and writes what is held before it reads one it
    has not. A constraint a held row breaks is raised at the end, as IntegrityError: whoever asked for
    it must be ready to undo the whole block. A block inside another is part of it."""
    if getattr(_deferred, "rows", None) is not None:  # inside one already: its end writes these too
        yield
        return
    _deferred.rows, _deferred.sums, _deferred.read, _deferred.changed = {}, {}, {}, {}
    try:
        yield
        flush_inserts()
    finally:
        _deferred.rows = _deferred.sums = _deferred.read = _deferred.changed = None


def add_amounts(sql: str, key: tuple, amounts: tuple[int, ...]) -> None:
    """Run an additive upsert, `sql` taking `(*key, *amounts)`. Inside `deferred_inserts` the amounts for
    one statement and key are summed and written once: adding commutes, and a batch of ten thousand
    filings then writes a few dozen counter rows instead of a statement (a round trip) each."""
    held = getattr(_deferred, "sums", None)
    if held is None:
        db.execute_sql(sql, (*key, *amounts))
        return
    rows = held.setdefault(sql, {})
    before = rows.get(key)
    rows[key] = amounts if before is None else tuple(a + b for a, b in zip(before, amounts, strict=True))


def flush_inserts() -> None:
    held, sums, changed = (getattr(_deferred, name, None) for name in ("rows", "sums", "changed"))
    if not held and not sums and not changed:
        return
    batches = [(sql, fields, list(rows.values())) for (sql, fields), rows in held.items()]
    batches += [(sql, None, [(*key, *amounts) for key, amounts in rows.items()]) for sql, rows in sums.items()]
    updates: dict[str, list[tuple]] = {}  # by the columns changed: the same statement for rows changed alike
    for row, names in changed.values():
        sql, params = _update(row, names)
        updates.setdefault(sql, []).append(params)
    held.clear()
    sums.clear()
    changed.clear()
    with pw.__exception_wrapper__:  # driver errors as peewee's, as `execute_sql` raises them
        if is_postgres():
            writing()
            _write_postgres(db.cursor(), batches, updates)
            return
        cursor = db.cursor()
        for sql, _, params in batches:
            cursor.executemany(sql, params)
        for sql, params in updates.items():
            cursor.executemany(sql, params)


def _write_postgres(cursor, batches: list[tuple], updates: dict[str, list[tuple]]) -> None:
    """Plain inserts by binary COPY; every other statement as one multi-row VALUES, or one UPDATE a row, sent
    together in as few round trips as the COPYs between them allow (a push's upserts of data keys, counters,
    stream heads and signed heads went one round trip each, under the writers' lock). In the order held."""
    pending: list[bytes] = []

    def send() -> None:
        if pending:
            cursor.execute(b";\n".join(pending))
            pending.clear()

    for sql, fields, params in batches:
        if fields and copyable(fields):
            send()
            copy_rows(cursor, fields[0].model._meta.table_name, fields, params)
            continue
        row = f"({', '.join(['%s'] * len(params[0]))})"
        head, tail = sql.split(f"VALUES {row}", 1)
        values = b",".join(cursor.mogrify(row, values) for values in params)
        pending.append(head.encode() + b"VALUES " + values + tail.encode())
    pending += [cursor.mogrify(sql, values) for sql, rows in updates.items() for values in rows]
    send()


@lru_cache(maxsize=64)
def _insert_sql(table: str, columns: tuple[str, ...], param: str, replace_on: tuple[str, ...]) -> str:
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([param] * len(columns))})"
    if replace_on:
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in replace_on)
        sql += f" ON CONFLICT ({', '.join(replace_on)}) DO UPDATE SET {updates}"
    return sql


def insert_row(model: type[BaseModel], values: dict, *, replace_on: tuple[str, ...] = ()) -> None:
    """Insert one row through a prepared string, overwriting the row with the same `replace_on` key.

    Projections insert a row per event applied; peewee's query builder cost several
    times the INSERT itself when a hub applies a batch of thousands.
    """
    fields = model._meta.fields
    columns = tuple(fields[n].column_name for n in values)
    sql = _insert_sql(model._meta.table_name, columns, db.param, replace_on)
    params = tuple(fields[n].db_value(v) for n, v in values.items())
    held = getattr(_deferred, "rows", None)
    if held is None:
        db.execute_sql(sql, params)
        return
    rows = held.setdefault((sql, () if replace_on else tuple(fields[n] for n in values)), {})
    # An overwrite held back replaces one held for the same key (the last one wins either way), so that
    # no statement carries a key twice; a plain insert is kept as is, duplicate and all, to be refused.
    key = tuple(params[columns.index(c)] for c in replace_on) if replace_on else len(rows)
    rows.pop(key, None)
    rows[key] = params


@lru_cache(maxsize=64)
def _select_sql(table: str, columns: tuple[str, ...], key: str, param: str) -> str:
    return f"SELECT {', '.join(columns)} FROM {table} WHERE {key} = {param}"


def get_row(model: type[BaseModel], key) -> BaseModel | None:
    """The row with this primary key, read through a prepared string (see `insert_row`); its fields
    are clean, so `update_row` writes only what is changed afterwards. Inside `deferred_inserts`, the
    same row object again until the block ends (or `forget_rows`)."""
    read = getattr(_deferred, "read", None)
    if read is not None and (model, key) in read:
        return read[model, key]
    flush_inserts()  # a row held back must be found
    fields = model._meta.sorted_fields
    sql = _select_sql(
        model._meta.table_name, tuple(f.column_name for f in fields), model._meta.primary_key.column_name, db.param
    )
    found = db.execute_sql(sql, (key,)).fetchone()
    if found is None:
        return None
    row = _clean_row(model, found)
    if read is not None:
        read[model, key] = row
    return row


def select_rows(model: type[BaseModel], rest: str = "", *params) -> list[BaseModel]:
    """The rows of `model` that `rest` selects (SQL after FROM: a WHERE, an ORDER BY, a LIMIT, with `{param}` for
    each parameter), read as `get_row` reads one, without peewee compiling a query at each call."""
    columns = ", ".join(f.column_name for f in model._meta.sorted_fields)
    sql = f"SELECT {columns} FROM {model._meta.table_name} {rest}"
    return [_clean_row(model, found) for found in execute(sql, *params).fetchall()]


def read_rows(model: type[BaseModel], keys) -> None:
    """Inside `deferred_inserts`, read the rows with these primary keys (those there are) in a few queries,
    for `get_row` to find: a run of events that each change a row then reads none of them one by one."""
    read = _deferred.read
    fields = model._meta.sorted_fields
    columns = ", ".join(f.column_name for f in fields)
    key = model._meta.primary_key
    sql = f"SELECT {columns} FROM {model._meta.table_name} WHERE {key.column_name} IN ({{marks}})"
    for found in select_in(sql, [k for k in set(keys) if (model, k) not in read]):
        row = _clean_row(model, found)
        read[model, row._pk] = row


def forget_rows() -> None:
    """Write what is held and forget the rows read: for code that goes on to read or write their tables
    by other means than `get_row` and `update_row` (a replay deletes an entity's rows)."""
    flush_inserts()
    read = getattr(_deferred, "read", None)
    if read is not None:
        read.clear()


# A field whose reading is peewee's own for text or integers takes the value the driver gives as it is: both
# drivers give text as `str` and integers as `int`. Converting each of an application row's 37 columns through
# its field took 18 µs a row; checking each value's type, 6 µs; converting only the others (dates, booleans)
# and taking the rest in one `zip`, 2.5 µs (W4 reads a thousand ahead).
_AS_GIVEN = (pw.TextField.adapt, pw.IntegerField.adapt)


@cache
def _readers(model: type[BaseModel]) -> tuple[tuple[str, ...], tuple[tuple[str, Callable], ...]]:
    """Each column's field name, in `sorted_fields` order; the fields whose values need converting, with
    their conversions."""
    fields = model._meta.sorted_fields
    converted = [
        (f.name, f.python_value)
        for f in fields
        if not (type(f).python_value is pw.Field.python_value and type(f).adapt in _AS_GIVEN)
    ]
    return tuple(f.name for f in fields), tuple(converted)


def _clean_row(model: type[BaseModel], found: tuple) -> BaseModel:
    """A row as read (columns in `sorted_fields` order), its values straight into its data: through each
    field's setter cost twice the read."""
    names, converted = _readers(model)
    row = model(__no_default__=1)
    data = row.__data__ = dict(zip(names, found, strict=True))
    for name, convert in converted:
        if (value := data[name]) is not None:
            data[name] = convert(value)
    return row


@lru_cache(maxsize=256)
def _update_plan(model: type[BaseModel], names: frozenset[str], param: str) -> tuple[str, tuple, Callable]:
    """The statement writing these fields of a model's rows, each field's name and conversion, the key's."""
    meta = model._meta
    fields = [meta.fields[n] for n in sorted(names)]
    key = meta.primary_key
    sets = ", ".join(f"{f.column_name} = {param}" for f in fields)
    sql = f"UPDATE {meta.table_name} SET {sets} WHERE {key.column_name} = {param}"
    return sql, tuple((f.name, f.db_value) for f in fields), key.db_value


def _update(row: BaseModel, names) -> tuple[str, tuple]:
    """The statement writing these fields of a row, and its parameters: planned once for each set of fields
    (a pull of a thousand decisions changes a thousand rows alike)."""
    sql, fields, key = _update_plan(type(row), frozenset(names), db.param)
    data = row.__data__
    return sql, (*(convert(data.get(name)) for name, convert in fields), key(row._pk))


def update_row(row: BaseModel) -> None:
    """Write the fields changed since `get_row`, through a prepared string; inside `deferred_inserts`,
    hold the row back to write it once at the end, however many times it changes meanwhile."""
    if not row._dirty:
        return
    changed = getattr(_deferred, "changed", None)
    if changed is not None:
        _, before = changed.get((type(row), row._pk), (row, set()))
        changed[type(row), row._pk] = (row, before | row._dirty)
    else:
        db.execute_sql(*_update(row, row._dirty))
    row._dirty.clear()
