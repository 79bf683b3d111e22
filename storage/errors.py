"""Errors of the storage layer."""

from __future__ import annotations

import errno
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class StorageError(Exception):
    """Base of every error raised by `storage/`."""

    code = "storage_error"


class UnsupportedDatabase(StorageError):
    code = "unsupported_database"


class SchemaTooNew(StorageError):
    code = "schema_too_new"


class PendingMigrations(StorageError):
    code = "pending_migrations"


class BlobCorrupt(StorageError):
    code = "blob_corrupt"


class BlobMissing(StorageError):
    code = "blob_missing"


class DatabaseBusy(StorageError):
    """SQLite stayed locked by another writer through every retry: the job is put off, nothing is lost."""

    code = "database_busy"


# What a step may need on top of the bytes it writes: the database's write-ahead log grows with a large
# sync batch until the next checkpoint. Asked for whenever the disk fills, so one clean-up is enough.
HEADROOM_BYTES = 32 << 20
_SQLITE_BUSY = 5
_SQLITE_FULL = 13


class DiskFull(StorageError):
    """The disk under `where` has no room: the step kept nothing, and works again once space is freed.

    One error for every place that writes (blobs, the database, bundles), so that web and command line
    say it once, in words a station's staff can act on: how much is free and how much is needed.
    """

    code = "disk_full"
    http_status = 507  # Insufficient Storage: the request was fine, the server cannot keep it

    def __init__(self, where: Path, needed_bytes: int = 0):
        self.where = Path(where)
        self.free_bytes = _free_bytes(self.where)
        self.needed_bytes = needed_bytes + HEADROOM_BYTES
        self.details = {"free_bytes": self.free_bytes, "needed_bytes": self.needed_bytes}
        super().__init__(
            f"磁盘已满：{self.where} 所在的磁盘只剩 {_megabytes(self.free_bytes)}，这一步至少需要"
            f" {_megabytes(self.needed_bytes)} 空闲空间。请清理磁盘（或换用更大的磁盘）后重试；"
            "没有留下任何写了一半的内容"
        )


def is_busy(exc: BaseException) -> bool:
    """Whether SQLite refused because another connection holds its lock ("database is locked")."""
    return getattr(getattr(exc, "orig", exc), "sqlite_errorcode", 0) & 0xFF == _SQLITE_BUSY


# psycopg2's classes for the server's own goodbye (SQLSTATE 57P01–57P03, class 08): shut down by an administrator
# (a fast restart), by a crash of another backend, not accepting connections yet, the connection failed.
_SERVER_AWAY = {
    "AdminShutdown",
    "CrashShutdown",
    "CannotConnectNow",
    "ConnectionException",
    "ConnectionDoesNotExist",
    "ConnectionFailure",
}
# psycopg2's bases, raised with no SQLSTATE when libpq itself found the link gone: OperationalError, or
# InterfaceError on a connection already closed, or a bare DatabaseError when libpq read the lost socket before
# it marked the connection bad (a crash seen over the unix socket, tests/integration/test_storage.py).
_LINK_LOST = {"OperationalError", "InterfaceError", "DatabaseError"}


def is_unreachable(exc: BaseException) -> bool:
    """Whether PostgreSQL could not be reached or dropped the connection (the server restarting or crashed,
    its host away, a failover under way), raw or wrapped by peewee. Only the driver's words for the link: a
    statement the server refused carries its SQLSTATE and another class, and stays an error of ours (500).
    The pool discards such a connection; the next request opens a new one."""
    driver = exc
    while getattr(driver, "orig", None) is not None and driver.orig is not driver:  # peewee may wrap twice
        driver = driver.orig
    kind = type(driver)
    if not kind.__module__.startswith("psycopg2"):
        return False
    return kind.__name__ in _SERVER_AWAY or (kind.__name__ in _LINK_LOST and getattr(driver, "pgcode", None) is None)


def is_disk_full(exc: BaseException) -> bool:
    """Whether an error means the disk is full: ENOSPC or EDQUOT from the system, SQLITE_FULL from SQLite
    (raw, or wrapped by peewee, which keeps the driver's error as `orig`)."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    driver = getattr(exc, "orig", exc)
    return getattr(driver, "sqlite_errorcode", 0) & 0xFF == _SQLITE_FULL


@contextmanager
def disk_full_translated(where: Path, needed_bytes: int = 0) -> Iterator[None]:
    """Turn a full disk met inside the block into `DiskFull` naming `where`; other errors pass unchanged."""
    try:
        yield
    except Exception as exc:
        if is_disk_full(exc):
            raise DiskFull(where, needed_bytes) from exc
        raise


def _free_bytes(where: Path) -> int:
    existing = next(p for p in (where, *where.parents) if p.exists())
    return shutil.disk_usage(existing).free


def _megabytes(count: int) -> str:
    return f"{count / (1 << 20):.1f} MB"
