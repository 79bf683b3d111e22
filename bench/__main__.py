"""`make bench`: the event-log benchmarks, each run three times; median and min–max printed.

W1–W5 of ../shared/bench/WORKLOADS.md are measured by `bench/sync.py`. The fleet (`bench/fleet.py`, issue 7)
needs PostgreSQL and runs at the size `ONETRIP_FLEET` names.
"""

from __future__ import annotations

import gc
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg2

from storage.database import bind, db, open_database, sqlite_url
from storage.migrations import migrate
from sync.chain import verify_batch
from sync.hlc import HybridClock, SystemClock
from sync.keys import SigningKey
from sync.log import Author, EventLog
from sync.projection import Registry
from sync.trust import PinnedTrust

from . import budget, fleet, floor, idle, ingest, provisioning, seals, sync, workbench
from .records import applications

EVENTS = 10_000
BATCH = 500
RUNS = 3
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


class _Ignore:
    """A projection that writes nothing: the benchmark measures the log itself."""

    event_types = frozenset({"application.filed"})

    def apply(self, event) -> None:
        pass

    def reset(self, entity) -> None:
        pass


def _log(key: SigningKey) -> EventLog:
    return EventLog(
        Author("i-bench", key),
        PinnedTrust({"i-bench": key.verifying_key}),
        Registry((_Ignore(),)),
        HybridClock(SystemClock()),
    )


def append_run(url: str, records: list[dict]) -> tuple[float, float]:
    """Append every record as an event, committing per batch; then verify the stream. Events/s for both."""
    bind(open_database(url))
    migrate()
    key = SigningKey.generate()
    log = _log(key)
    started = time.perf_counter()
    for start in range(0, len(records), BATCH):
        with log.transaction():
            for record in records[start : start + BATCH]:
                log.append("application.filed", record["id"], record, stream="511302001001")
    appended = len(records) / (time.perf_counter() - started)
    log.sign_heads()
    raws = log.events_of("i-bench", "511302001001")
    head = log.latest_head("i-bench", "511302001001")
    gc.collect()  # start the verify pass from a settled heap, not in the middle of the append phase's garbage
    started = time.perf_counter()
    verify_batch(raws, head, key.verifying_key)
    verified = len(raws) / (time.perf_counter() - started)
    db.close()
    return appended, verified


def _postgres_url():
    try:
        admin = psycopg2.connect(POSTGRES_ADMIN, connect_timeout=3)
    except psycopg2.OperationalError:
        return None, None
    admin.autocommit = True
    name = f"onetrip_bench_{uuid.uuid4().hex[:10]}"
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    return admin, name


def _summary(values: list[float]) -> str:
    return f"{statistics.median(values):>9,.0f}  ({min(values):,.0f}–{max(values):,.0f})"


def machine() -> str:
    """The load the figures were measured under: a benchmark on a busy machine says so."""
    one, five, fifteen = os.getloadavg()
    return f"machine: {os.cpu_count()} cores, load average {one:.2f} / {five:.2f} / {fifteen:.2f} at the start"


def main() -> int:
    print(machine())
    records = applications(EVENTS)
    rows = []
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(RUNS):
            data_dir = Path(tmp) / f"run{run}"
            data_dir.mkdir()
            results.append(append_run(sqlite_url(data_dir), records))
    rows.append(("append, SQLite, commit per 500", [r[0] for r in results], "≥ 5,000"))
    rows.append(("verify (parse + hash chain + head)", [r[1] for r in results], "≥ 50,000"))
    admin, name = _postgres_url()
    if admin is not None:
        pg = []
        for _ in range(RUNS):
            url = f"{POSTGRES_ADMIN.rsplit('/', 1)[0]}/{name}"
            pg.append(append_run(url, records))
            admin.cursor().execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            admin.cursor().execute(f'CREATE DATABASE "{name}"')
        admin.cursor().execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        rows.append(("append, PostgreSQL, commit per 500", [r[0] for r in pg], "—"))
    print(f"Event log, {EVENTS:,} application events of ~1.2 KB (seed 42), {RUNS} runs: events/s median (min–max)")
    print(f"{'benchmark':<38} {'events/s':>30}   target")
    for label, values, target in rows:
        print(f"{label:<38} {_summary(values):>30}   {target}")
    print()
    print("\n".join(sync.report()))
    print()
    print("\n".join(idle.report()))
    print()
    print("\n".join(floor.report()))
    print()
    print("\n".join(provisioning.report()))
    print()
    print("\n".join(workbench.report()))
    print()
    print("\n".join(seals.report()))
    print()
    print("\n".join(budget.report()))
    if admin is not None:
        print()
        print("\n".join(ingest.report()))
        print()
        print("\n".join(fleet.report()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
