"""SQLite under load: the scheduled jobs that write wait their turn behind pushes and filings instead of
failing with "database is locked", and a writer that holds the lock too long only puts a job off."""

from __future__ import annotations

import logging
import sqlite3
import threading

import pytest

from harness.cluster import file
from node.cases.marks import mark_deadlines
from storage.database import db, retried_when_busy
from storage.errors import DatabaseBusy
from storage.models import Application

WRITERS, FILINGS_EACH = 4, 6


def test_marking_deadlines_while_writers_commit_raises_and_logs_no_lock_error(county_node, caplog):
    """Four threads file applications (each a write transaction with its event, as an applied push is)
    while the deadline job runs again and again on the same SQLite file."""
    failures: list[BaseException] = []

    def writer() -> None:
        try:
            for _ in range(FILINGS_EACH):
                file(county_node)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            failures.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=writer) for _ in range(WRITERS)]
    caplog.set_level(logging.WARNING)
    for thread in threads:
        thread.start()
    runs = 0
    while any(t.is_alive() for t in threads) or runs < 3:
        try:
            county_node.mark_deadlines()
        except BaseException as exc:  # noqa: BLE001
            failures.append(exc)
            break
        runs += 1
    for thread in threads:
        thread.join()
    assert not failures, failures
    assert Application.select().count() == WRITERS * FILINGS_EACH
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or "locked" in r.getMessage()]


def hold_writer_lock(database_file) -> sqlite3.Connection:
    """Another connection (as a long push would) holding SQLite's writer lock until it is closed."""
    holder = sqlite3.connect(database_file, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    return holder


@pytest.fixture
def impatient(county_node):
    """This thread's connection gives up on a held lock after 50 ms instead of 10 s, to keep the test fast."""
    db.execute_sql("PRAGMA busy_timeout = 50")
    return county_node.config.data_dir / "onetrip.db"


def job(county_node):
    return lambda: mark_deadlines(county_node.now().date(), county_node.reference.holidays())


def test_a_job_meeting_a_held_lock_runs_again_once_it_is_released(county_node, impatient):
    holder = hold_writer_lock(impatient)
    threading.Timer(0.15, holder.close).start()
    assert retried_when_busy(job(county_node), attempts=20, pause_s=0.1) == {"due_soon": 0, "overdue": 0}


def test_a_lock_held_through_every_retry_puts_the_job_off_with_a_storage_error(county_node, impatient):
    holder = hold_writer_lock(impatient)
    try:
        with pytest.raises(DatabaseBusy) as refused:
            retried_when_busy(job(county_node), attempts=2, pause_s=0.01)
    finally:
        holder.close()
    assert refused.value.code == "database_busy" and "忙" in str(refused.value)
