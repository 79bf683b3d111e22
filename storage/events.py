"""The event table's hot paths as plain SQL, written once per database dialect.

Appending and applying events run these for every event; building them with
peewee's query builder cost more than the database work itself (measured: about
five times the time of the INSERT), so they are prepared strings here.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import peewee as pw

from .database import db, execute, is_postgres, select_in, writing
from .models.log import EventRecord
from .pgcopy import copy_rows

_COLUMNS = ("eid", "origin", "stream", "seq", "hlc", "type", "entity", "body", "chain", "status", "reason")
_FIELDS = tuple(EventRecord._meta.fields[name] for name in _COLUMNS)


@lru_cache(maxsize=4)
def _statements(param: str) -> dict[str, str]:
    marks = ", ".join([param] * len(_COLUMNS))
    return {
        "insert": f"INSERT INTO event ({', '.join(_COLUMNS)}) VALUES ({marks}) RETURNING arrival",
        "insert_many": f"INSERT INTO event ({', '.join(_COLUMNS)}) VALUES ({marks})",
        "by_entity": f"SELECT body, status FROM event WHERE entity = {param}",
        "newest": "SELECT MAX(arrival) FROM event",
    }


def _execute(name: str, params: tuple):
    """Straight to the driver's cursor: inside a transaction peewee's wrapper adds nothing we need."""
    cursor = db.cursor()
    cursor.execute(_statements(db.param)[name], params)
    return cursor


def insert_event(values: Sequence) -> int:
    """Insert one event row (values in `_COLUMNS` order); return its arrival number."""
    writing()
    return _execute("insert", tuple(values)).fetchone()[0]


def insert_events(rows: Sequence[Sequence]) -> None:
    """Insert many event rows, in order (so arrival numbers follow it): one `executemany` on SQLite; on
    PostgreSQL one binary COPY (`storage.pgcopy`), in which the rows take their arrival numbers in the order
    given as they would from INSERTs. Multi-row VALUES quoted every body as hex text for the server to parse
    back: a fifth of the city's CPU in the metro storm, and 82 µs a row against COPY's 34 µs (5,000 rows of
    1,800 B bodies, loopback)."""
    writing()
    with pw.__exception_wrapper__:  # driver errors as peewee's, as `execute_sql` raises them
        cursor = db.cursor()
        if is_postgres():
            copy_rows(cursor, "event", _FIELDS, rows)
        else:
            cursor.executemany(_statements(db.param)["insert_many"], rows)


def newest_arrival() -> int:
    """The arrival number of the newest event stored (0 for none): writers commit in arrival order, so a
    read up to it sees no later gap filled."""
    return _execute("newest", ()).fetchone()[0] or 0


def entity_rows(entity: str) -> list[tuple[bytes, str]]:
    return [(bytes(body), status) for body, status in _execute("by_entity", (entity,)).fetchall()]


def bodies_of(arrivals) -> dict[int, bytes]:
    """The stored bodies of these events, by arrival: a pull's thousand, without building a thousand-value
    IN clause in peewee (a sixth of a hub's CPU answering one)."""
    return {
        arrival: bytes(body)
        for arrival, body in select_in("SELECT arrival, body FROM event WHERE arrival IN ({marks})", arrivals)
    }


def settled_among(eids, statuses: tuple[str, str]) -> set[str]:
    """Which of these events are stored with one of two statuses.

    The status is checked here, not in SQL: given both, SQLite's planner walks the status index
    (every applied event) rather than the eid index, ten times slower for a batch of decisions."""
    rows = select_in("SELECT eid, status FROM event WHERE eid IN ({marks})", eids)
    return {eid for eid, status in rows if status in statuses}


# What deciding a batch reads ahead, as the parts of one query: each row says which part it answers.
_AHEAD = {
    "newest": "SELECT 'newest', entity, hlc, eid, status FROM event WHERE entity IN ({marks})",
    "settled": "SELECT 'settled', eid, NULL, NULL, status FROM event WHERE eid IN ({marks})",
    "awaited": "SELECT 'awaited', dep, NULL, NULL, NULL FROM pending_dep WHERE dep IN ({marks})",
}
_AHEAD_CHUNK = 300  # values per part: the three stay below every engine's limit on bound parameters (999)


def read_ahead(
    entities, deps, eids, statuses: tuple[str, str]
) -> tuple[dict[str, tuple[int, str]], set[str], set[str]]:
    """For deciding a batch, in one query (a round trip of the writers' lock on PostgreSQL) per few hundred:
    the greatest (hlc, eid) among each entity's events stored with one of `statuses`, for the entities that
    have one (the columns alone, not the bodies, which would have to be parsed); which `deps` are stored with
    one of them (checked here, not in SQL: see `settled_among`); which `eids` some pending event waits for.

    An event's deps are mostly its entity's earlier events, which the entities' rows hold already: only the
    others are asked for by eid, in a second query when there are any (a pull of a thousand decisions has
    none; asking for all of them was a third of its read-ahead)."""
    newest: dict[str, tuple[int, str]] = {}
    settled: set[str] = set()
    awaited: set[str] = set()
    deps, seen = set(deps), set()
    for part, key, hlc, eid, status in _ahead({"newest": list(entities), "awaited": list(eids)}):
        if part == "awaited":
            awaited.add(key)
            continue
        seen.add(eid)
        if status in statuses:
            newest[key] = max(newest.get(key, (0, "")), (hlc, eid))
            if eid in deps:
                settled.add(eid)
    for _, key, _, _, status in _ahead({"settled": list(deps - seen)}):
        if status in statuses:
            settled.add(key)
    return newest, settled, awaited


def _ahead(asked: dict[str, list]) -> list[tuple]:
    """The rows of these parts of `_AHEAD`, each row saying which part it answers."""
    rows = []
    for start in range(0, max(map(len, asked.values())), _AHEAD_CHUNK):
        chunks = {part: values[start : start + _AHEAD_CHUNK] for part, values in asked.items()}
        parts = [_AHEAD[part].format(marks=", ".join([db.param] * len(c))) for part, c in chunks.items() if c]
        cursor = db.cursor()
        cursor.execute(" UNION ALL ".join(parts), [value for c in chunks.values() for value in c])
        rows += cursor.fetchall()
    return rows


_PAIRS = 400  # (origin, stream) pairs per statement: two parameters each


def stream_heads(streams) -> list[tuple[str, str, int, str]]:
    """The held head (origin, stream, seq, chain) of each of these (origin, stream) pairs that has one."""
    pairs, rows = list(streams), []
    for start in range(0, len(pairs), _PAIRS):
        chunk = pairs[start : start + _PAIRS]
        marks = ", ".join([f"({db.param}, {db.param})"] * len(chunk))
        cursor = db.cursor()
        cursor.execute(
            f"SELECT origin, stream, seq, chain FROM stream_head WHERE (origin, stream) IN ({marks})",
            [value for pair in chunk for value in pair],
        )
        rows.extend(cursor.fetchall())
    return rows


def arrivals_of(keys) -> dict[tuple[str, str, int], int]:
    """The arrival number of each held event of these (origin, stream, seq)."""
    keys, found = list(keys), {}
    for start in range(0, len(keys), _PAIRS // 2):
        chunk = keys[start : start + _PAIRS // 2]
        marks = ", ".join([f"({db.param}, {db.param}, {db.param})"] * len(chunk))
        cursor = db.cursor()
        cursor.execute(
            f"SELECT origin, stream, seq, arrival FROM event WHERE (origin, stream, seq) IN ({marks})",
            [value for key in chunk for value in key],
        )
        found.update({(origin, stream, seq): arrival for origin, stream, seq, arrival in cursor.fetchall()})
    return found


def in_streams(prefixes: Sequence[str]) -> tuple[str, list[str]]:
    """A condition on a row's `stream` (for `storage.database.execute`) and its parameters: streams named so or
    starting so, as ranges of the index by stream and arrival. A stream's name is printable ASCII below "~"
    (`sync.event`), so the names that start with a prefix are those from it up to the prefix and "~", compared
    byte by byte (on PostgreSQL in the index's collation, "C")."""
    stream = "stream COLLATE " + ('"C"' if is_postgres() else "BINARY")
    ranges = " OR ".join([f"({stream} >= {{param}} AND {stream} < {{param}})"] * len(prefixes))
    return f"({ranges})", [bound for prefix in prefixes for bound in (prefix, prefix + "~")]


def headers_after(cursor: int, limit: int, top: int, streams: Sequence[str] | None) -> list[tuple]:
    """(arrival, origin, stream, seq, the body's length) of at most `limit` events stored after `cursor` up to
    `top`, in arrival order; in `streams` (`in_streams`) when given. A push reads them every round."""
    narrowed, params = in_streams(streams) if streams is not None else ("1 = 1", [])
    sql = (
        "SELECT arrival, origin, stream, seq, LENGTH(body) FROM event"
        f" WHERE arrival > {{param}} AND arrival <= {{param}} AND {narrowed} ORDER BY arrival LIMIT {{param}}"
    )
    return execute(sql, cursor, top, *params, limit).fetchall()
