"""The one place that binds the peewee database of a process.

SQLite by default (a file in the data dir), PostgreSQL for hubs when given a
`postgresql://` URL, through a bounded pool. Models point at `db`, a proxy bound at run time.
"""

from __future__ import annotations

import functools
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlparse

import peewee
from playhouse.db_url import parseresult_to_dict
from playhouse.pool import PooledDatabase, PooledPostgresqlDatabase

from .errors import DatabaseBusy, UnsupportedDatabase, disk_full_translated, is_busy

db = peewee.DatabaseProxy()
T = TypeVar("T")

# Chosen for safety first; each value is why a committed event survives a power cut.
SQLITE_PRAGMAS = {
    # WAL: readers never block the writer, and a crash never leaves a half-written page.
    "journal_mode": "wal",
    # FULL fsyncs the WAL at every commit; NORMAL may lose the last commits on power loss.
    "synchronous": "full",
    "foreign_keys": 1,
    # A second process (the CLI next to `serve`) waits for the writer instead of failing.
    "busy_timeout": 10_000,
    "cache_size": -16_000,  # 16 MB of page cache: old PCs have little memory
}

# All writers of the event log serialise on this PostgreSQL advisory lock, so that
# arrival numbers are committed in order and a cursor never skips a late commit.
_WRITER_LOCK = 0x0E7E_1065
# Except writers confined to areas (`write_transaction(areas=...)`): they hold the writers' lock shared, one lock
# per area (keys `(_AREA_CLASS, crc32 of its name)`: a collision only makes two areas wait for each other), and
# this one from their first write to their commit, so that their arrival numbers are still committed in order.
_ARRIVAL_LOCK = 0x0E7E_1066
_AREA_CLASS = 0x0E7E

# This thread's unit of work: its write transaction's memo (`transaction_memo`) and what each cache kept for
# the transaction's length asked to be told of a rollback (`on_rollback`).
_unit = threading.local()
# A hub's threads (waitress's, the scheduler's) take a PostgreSQL connection for a unit of work
# and give it back (`release`), so a process holds at most its pool's size however long it runs:
# several hubs and their processes share one server's `max_connections`. A thread finding the pool
# empty waits this long for a connection rather than fail at once.
POOL_WAIT_S = 30
# A connection idle this long is closed at its next check-out instead of reused: one the server or a
# firewall dropped meanwhile is not handed out, and a burst's extra connections do not stay forever.
POOL_STALE_S = 300
COMMAND_CONNECTIONS = 2  # a command's own thread and a sync round's read-ahead worker


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{Path(data_dir).resolve() / 'onetrip.db'}"


def open_database(url: str, connections: int = COMMAND_CONNECTIONS) -> peewee.Database:
    """Open (without binding) the database a URL names; PostgreSQL as a pool of at most `connections`.

    SQLite keeps one connection per thread: it is a file, with no server to run short of connections.
    """
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        return _SqliteDatabase(**parseresult_to_dict(parsed), pragmas=SQLITE_PRAGMAS)
    if parsed.scheme in ("postgresql", "postgres"):
        if "," in parsed.netloc:  # a primary and its standbys: libpq tries them in order (docs/operations.md)
            name = parsed.path.lstrip("/")
            pool = {"max_connections": connections, "stale_timeout": POOL_STALE_S, "timeout": POOL_WAIT_S}
            return _PooledPostgres(name, dsn=url, **pool)
        pooled = {"max_connections": connections, "stale_timeout": POOL_STALE_S, "timeout": POOL_WAIT_S}
        return _PooledPostgres(**parseresult_to_dict(parsed), **pooled)
    raise UnsupportedDatabase(f"不支持的数据库地址 {url!r}：请使用 sqlite:///路径 或 postgresql://用户@主机/库名")


class _PooledPostgres(PooledPostgresqlDatabase):
    """PostgreSQL through the pool, whose transaction can begin holding an advisory lock: `BEGIN` and the lock in
    one round trip. A push's apply makes a dozen; in a storm each waits its turn for the server on a busy CPU."""

    def begin(self, isolation_level=None, lock: int | None = None, areas: tuple[str, ...] = ()):
        if lock is None:
            return super().begin(isolation_level)
        if not areas:
            sql, params = "BEGIN; SELECT pg_advisory_xact_lock(%s)", [lock]
        else:  # taken in sorted order, one statement each (in order), so that two writers cannot deadlock
            keys = sorted({_area_key(area) for area in areas})
            each = "; SELECT pg_advisory_xact_lock(%s, %s)"
            sql = "BEGIN; SELECT pg_advisory_xact_lock_shared(%s)" + each * len(keys)
            params = [lock, *(value for key in keys for value in (_AREA_CLASS, key))]
        with peewee.__exception_wrapper__:
            self.cursor().execute(sql, params)


def _area_key(area: str) -> int:
    """An area's name as the int4 of a two-key advisory lock."""
    key = zlib.crc32(area.encode())
    return key - (1 << 32) if key >= 1 << 31 else key


class _SqliteDatabase(peewee.SqliteDatabase):
    """SQLite whose full disk is `DiskFull` (naming the database's folder) wherever a statement meets it.

    SQLite rolls the whole transaction back itself on SQLITE_FULL; a ROLLBACK (or a savepoint's RELEASE)
    after it would fail ("no transaction is active") and hide why, so one with nothing left to end is skipped.
    """

    def execute_sql(self, sql, params=None):
        if sql.startswith(("ROLLBACK", "RELEASE")) and not self.connection().in_transaction:
            return None
        with disk_full_translated(self._folder):
            return super().execute_sql(sql, params)

    def commit(self):
        with disk_full_translated(self._folder):
            return super().commit()

    @functools.cached_property
    def _folder(self) -> Path:
        """The database's folder, named by a full disk's error (a `Path` per statement cost an idle pull 4 %)."""
        return Path(self.database).parent

    def rollback(self):
        if self.connection().in_transaction:
            super().rollback()


def bind(database: peewee.Database) -> peewee.Database:
    db.initialize(database)
    return database


def is_postgres() -> bool:
    return isinstance(db.obj, peewee.PostgresqlDatabase)


@contextmanager
def write_transaction(*, log: bool = True, areas: tuple[str, ...] = ()):
    """One transaction that writes. With `log` (the default) this process is the only writer of the event log
    in it, and of every row whose writers read before they write.

    `log=False` is for rows written by statements that read nothing first (an upsert, an additive update)
    and that no writer of the log touches, such as a station's last contact: on PostgreSQL their own row
    locks keep them right, and they need not wait behind a storm's batches for the writers' lock, holding a
    sync slot meanwhile. SQLite has one writer whatever: it begins IMMEDIATE either way.

    `areas` (PostgreSQL): a writer of the log whose every row belongs to these areas (a city applying one
    county's relay: the rows of that county's cases), or is a counter it only adds to. It runs beside writers
    of other areas, from the writers' lock taken shared and a lock per area; only its writes wait for theirs
    (`writing`), so that arrival numbers are committed in the order they were given and a reader following
    them never passes over a late commit. Every other writer still has the log to itself."""
    outermost = db.transaction_depth() == 0
    if outermost:
        _unit.memo, _unit.forget = {}, [forget_memo]
        _unit.unordered = bool(areas) and is_postgres()
    try:
        if is_postgres() or not outermost:
            locks = {"lock": _WRITER_LOCK, "areas": areas} if outermost and log else {}
            with db.atomic(**locks) as txn:
                yield txn
        else:
            # IMMEDIATE takes SQLite's write lock at BEGIN: two processes that both read
            # and then write cannot deadlock, the second one waits (busy_timeout). Rows written
            # straight through the driver's cursor meet a full disk here, not in `execute_sql`.
            with disk_full_translated(Path(db.obj.database).parent), db.atomic("IMMEDIATE") as txn:
                yield txn
    except BaseException:
        _rolled_back()
        raise
    finally:
        if outermost:
            _unit.memo = _unit.forget = None
            _unit.unordered = False


def writing() -> None:
    """Before a write of events or of rows held back (`flush_inserts`): in a transaction of areas, wait for the
    others' writes to commit, once. Event rows take their arrival numbers as they are inserted, so the
    writers' inserts must follow each other's commits; the counters two areas both add to are written only
    here too, so those row locks are never waited for in a cycle. (A transaction's writes outside these, to
    rows of its own areas, wait for nobody.)"""
    if getattr(_unit, "unordered", False):
        with peewee.__exception_wrapper__:
            db.cursor().execute("SELECT pg_advisory_xact_lock(%s)", (_ARRIVAL_LOCK,))
        _unit.unordered = False
        on_rollback(_reordered)


def _reordered() -> None:
    """A savepoint rolled back may have taken the arrival lock with it: take it again before the next write."""
    if getattr(_unit, "forget", None) is not None:
        _unit.unordered = True


# A scheduled job that still finds SQLite locked after `busy_timeout` (a long batch holding the writer
# lock on an old PC) tries again this many times, this far apart, then waits for its next run.
BUSY_ATTEMPTS = 3
BUSY_PAUSE_S = 5.0


def retried_when_busy(work: Callable[[], T], attempts: int = BUSY_ATTEMPTS, pause_s: float = BUSY_PAUSE_S) -> T:
    """Run `work` (outside any transaction); if SQLite stayed locked, again after a pause, a bounded number
    of times; then `DatabaseBusy`. For background work only: a person's request is not held this long."""
    for attempt in range(attempts):
        if attempt:
            time.sleep(pause_s)
        try:
            return work()
        except Exception as exc:
            if not is_busy(exc):
                raise
            busy = exc
    raise DatabaseBusy(f"数据库正忙（另一写入一直占用），{attempts} 次尝试均未成功：留待下次运行") from busy


def transaction_memo() -> dict | None:
    """A dict that lives as long as this thread's write transaction (None outside one).

    For what a hot path reads again and again and nobody else can change meanwhile: writers
    are serialised, so only this transaction can, and whoever changes it calls `forget_memo`.
    A rollback, of the transaction or a savepoint in it, empties it too (`on_rollback`).
    """
    return getattr(_unit, "memo", None)


def forget_memo() -> None:
    values = transaction_memo()
    if values is not None:
        values.clear()


def on_rollback(forget: Callable[[], None]) -> None:
    """Have `forget` run if this thread's write transaction, or a savepoint inside it, is rolled back.

    The one hook of the unit of work: each cache that lives as long as a transaction (the memo, the
    trust cache, the log's forked origins) registers here instead of guarding every exit by hand, so
    nothing read inside a rolled-back transaction is believed after it. Outside a transaction, nothing.
    """
    hooks = getattr(_unit, "forget", None)
    if hooks is not None and forget not in hooks:
        hooks.append(forget)


def _rolled_back() -> None:
    for forget in getattr(_unit, "forget", None) or ():
        forget()


@contextmanager
def savepoint(name: str = "onetrip_apply"):
    """A named savepoint inside the current transaction, without the query builder's overhead.

    Taken once per applied event; peewee's generic `atomic()` costs a UUID and
    several calls more. Not reentrant under the same name.
    """
    db.execute_sql(f"SAVEPOINT {name}")
    try:
        yield
    except BaseException:
        db.execute_sql(f"ROLLBACK TO SAVEPOINT {name}")
        db.execute_sql(f"RELEASE SAVEPOINT {name}")
        _rolled_back()
        raise
    db.execute_sql(f"RELEASE SAVEPOINT {name}")


@contextmanager
def unsynced() -> Iterator[None]:
    """Around a write on its own (never inside a transaction) whose loss in a power cut is harmless: on
    SQLite committed without waiting for the disk (WAL with synchronous NORMAL keeps it through a crash
    of this process, not of the machine), which spares a hub an fsync per sync request for its nonce.
    PostgreSQL commits as always: its flush is the server's work, not this process's."""
    if is_postgres() or db.in_transaction():
        yield
        return
    db.execute_sql("PRAGMA synchronous = normal")
    try:
        yield
    finally:
        db.execute_sql(f"PRAGMA synchronous = {SQLITE_PRAGMAS['synchronous']}")


def release() -> None:
    """At the end of a unit of work (a request, a scheduled job), give this thread's pooled connection back.

    Never inside a transaction: whoever opened it still holds its rows and the writer lock, and peewee
    refuses to close it. SQLite's per-thread connection stays open: reopening it would drop its page
    cache and checkpoint the WAL at every request.
    """
    if isinstance(db.obj, PooledDatabase) and not db.in_transaction():
        db.close()


def execute(sql: str, *params):
    """`sql`, written with `{param}` for each parameter, run on SQLite or PostgreSQL alike; its cursor. For the
    queries a sync round runs each time: peewee builds and compiles a query at every call (0.15–0.3 ms, more
    than SQLite takes to answer a small one; a station's first round compiled a dozen)."""
    return db.execute_sql(sql.format(param=db.param), params)


_CHUNK = 500  # values per IN (...): below every engine's limit on bound parameters


def select_in(sql: str, values, *extra) -> list[tuple]:
    """Run `sql` (with `{marks}` for the IN list) over the values in chunks; all rows."""
    values, rows = list(values), []
    for start in range(0, len(values), _CHUNK):
        chunk = values[start : start + _CHUNK]
        marks = ", ".join([db.param] * len(chunk))
        cursor = db.cursor()
        cursor.execute(sql.format(marks=marks, param=db.param), (*chunk, *extra))
        rows.extend(cursor.fetchall())
    return rows


def close() -> None:
    """Close this thread's connection, if a database is bound at all."""
    if db.obj is not None:
        db.close()
