"""Issue 5's benchmark: W1–W4 of ../shared/bench/WORKLOADS.md between a village station and its county
hub, through a counting TCP proxy, each run three times on a fresh copy of the same state, with the
hub on SQLite and then on PostgreSQL (the same county, its rows copied into a fresh database).

The hub is a real `onetrip serve` process; each sync round runs in its own process, so that the
peak RSS of each side is its own. Applications are filed through the real intake (validation,
field encryption, events). W2–W4 start from the W1 state (`ONETRIP_BENCH_SYNC_APPLICATIONS`
applications, 10,000 by default) rather than 100,000: filing 100,000 through intake takes minutes.
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import orjson
import psycopg2

from node import fleet
from node.applications import transition
from node.config import NodeConfig
from node.demo import enrol_by_bundle
from node.runtime import Node, initialise
from provisioning.identity import load_identity, save_identity
from storage.database import bind, close, db, open_database, sqlite_url
from storage.migrations import migrate
from storage.models import Application, BaseModel, SchemaVersion
from tests.support.servers import free_port, start, stop
from tests.support.tree import provision_county

from .proxy import CountingProxy
from .records import applications
from .workbench import _fill

POSTGRES_BASE = "postgresql://postgres@127.0.0.1:5432"
COUNT = int(os.environ.get("ONETRIP_BENCH_SYNC_APPLICATIONS", 10_000))
RUNS = 3
CHANGED, DECIDED = 100, 1_000
ALGORITHM = "ecdsa-p256-sha256"
APP = Path(__file__).resolve().parents[1] / "app.py"


def _template(base: Path) -> tuple[NodeConfig, NodeConfig]:
    """A county with a village enrolled by bundle, the village holding COUNT applications filed offline."""
    tree = provision_county(base)
    done = fleet.register(
        Node.from_config(tree.county), name="青山村", level="village", region="511302001001", hub_url="http://x.invalid"
    )
    close()
    village = NodeConfig(base / "village")
    initialise(
        village, level="village", name="青山村便民服务代办点", region="511302001001", algorithm="ecdsa-p256-sha256"
    )
    enrol_by_bundle(tree.county, village, done.code, "http://x.invalid")
    node = Node.from_config(village)
    _fill(node, COUNT)
    node.events.sign_heads()
    close()
    return tree.county, village


def _round(village: Path) -> dict:
    """One `sync_once` in a fresh process: its wall seconds (the round only) and peak RSS."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.sync", "round", str(village)],
        capture_output=True,
        text=True,
        check=True,
        cwd=APP.parent,
        env={**os.environ, "ONETRIP_SYNC_INTERVAL_S": "86400"},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _server_peak_mb(process: subprocess.Popen) -> float:
    status = Path(f"/proc/{process.pid}/status").read_text().splitlines()
    return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024


def _change_at_village(village: Path) -> None:
    """W3: CHANGED applications change at the station (withdrawn, with a note)."""
    node = Node.from_config(NodeConfig(village))
    numbers = [a.number for a in Application.select(Application.number).order_by(Application.number).limit(CHANGED)]
    with node.events.transaction():
        for number in numbers:
            transition(node.events, number, "application.withdrawn", {"by": "cun.agent", "reason": "申请人撤回"})
    close()


def _decide_at_hub(county: Path) -> None:
    """W4: the hub records DECIDED decisions (acceptances) on the station's applications."""
    node = Node.from_config(NodeConfig.load(county))
    rows = Application.select(Application.number).where(Application.state == "submitted").order_by(Application.number)
    numbers = [a.number for a in rows.limit(DECIDED)]
    with node.events.transaction():
        for number in numbers:
            transition(node.events, number, "application.accepted", {"by": "county.clerk"})
    node.events.sign_heads()
    close()


def _move_hub_to_postgres(county: Path, url: str) -> None:
    """The same county on PostgreSQL: every row copied from its SQLite file, the URL in its settings."""
    bind(open_database(sqlite_url(county)))
    tables = [m for m in BaseModel.__subclasses__() if m is not SchemaVersion and m.table_exists()]
    rows = {model: list(model.select().dicts()) for model in tables}
    close()
    bind(open_database(url))
    migrate()
    with db.atomic():
        for model, values in rows.items():
            for start_at in range(0, len(values), 1000):
                model.insert_many(values[start_at : start_at + 1000]).execute()
        db.execute_sql("SELECT setval(pg_get_serial_sequence('event', 'arrival'), (SELECT MAX(arrival) FROM event))")
    close()
    (county / "onetrip.toml").write_text(f'database = "{url}"\n', "utf-8")


def _one_run(template: Path, work: Path, postgres_url: str | None = None) -> dict[str, dict]:
    shutil.copytree(template, work)
    county, village = work / "county", work / "village"
    if postgres_url:
        _move_hub_to_postgres(county, postgres_url)
    port = free_port()
    server = start(["serve", "--data", str(county)], port)
    proxy = CountingProxy(port)
    identity, _ = load_identity(village)
    save_identity(village, identity.__class__(**{**identity.__dict__, "parent_url": f"http://127.0.0.1:{proxy.port}"}))
    results = {}
    try:
        for name, before in (
            ("W1 backlog", None),
            ("W2 idle", None),
            ("W3 small delta", lambda: _change_at_village(village)),
            ("W4 pull", lambda: _decide_at_hub(county)),
        ):
            if before:
                before()
            proxy.reset()
            figures = _round(village)
            time.sleep(0.2)  # the proxy's pumps finish counting the last bytes
            results[name] = {**figures, "up": proxy.up, "down": proxy.down, "hub_mb": _server_peak_mb(server)}
    finally:
        proxy.close()
        stop(server)
    return results


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):,.3f} ({min(values):,.3f}–{max(values):,.3f})"


def report() -> list[str]:
    records = applications(COUNT)
    gzipped = len(gzip.compress(b"\n".join(orjson.dumps(r) for r in records)))
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "template"
        started = time.perf_counter()
        _template(template)
        made = time.perf_counter() - started
        lines = [
            f"Sync, village → county hub through a counting proxy, {COUNT:,} applications filed offline "
            f"(setup {made:.0f} s), {RUNS} runs: median (min–max)"
        ]
        runs = [_one_run(template, Path(tmp) / f"run{i}") for i in range(RUNS)]
        lines += _table("hub on SQLite", runs, gzipped)
        admin = _postgres_admin()
        if admin is not None:
            pg_runs = []
            for i in range(RUNS):
                name = f"onetrip_bench_{uuid.uuid4().hex[:10]}"
                admin.cursor().execute(f'CREATE DATABASE "{name}"')
                try:
                    pg_runs.append(_one_run(template, Path(tmp) / f"pg{i}", f"{POSTGRES_BASE}/{name}"))
                finally:
                    admin.cursor().execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            lines += _table("hub on PostgreSQL", pg_runs, gzipped)
    return lines


def _postgres_admin():
    try:
        admin = psycopg2.connect(f"{POSTGRES_BASE}/postgres", connect_timeout=3)
    except psycopg2.OperationalError:
        return None
    admin.autocommit = True
    return admin


def _table(title: str, runs: list[dict], gzipped: int) -> list[str]:
    lines = [f"{title:<16} {'seconds':>24} {'bytes up':>12} {'bytes down':>12} {'RSS child/hub MB':>18}"]
    for name in runs[0]:
        rows = [run[name] for run in runs]
        up, down, child, hub = (statistics.median(r[k] for r in rows) for k in ("up", "down", "child_mb", "hub_mb"))
        seconds = _median([r["seconds"] for r in rows])
        lines.append(f"{name:<16} {seconds:>24} {up:>12,.0f} {down:>12,.0f} {child:>8.0f}/{hub:<8.0f}")
    w1 = statistics.median(run["W1 backlog"]["up"] + run["W1 backlog"]["down"] for run in runs)
    lines.append(f"W1 bytes on the wire / gzip of the records as JSON lines ({gzipped:,} B): {w1 / gzipped:.2f}")
    return lines


def _round_main(village: str) -> None:
    node = Node.from_config(NodeConfig.load(Path(village)))
    started = time.perf_counter()
    report = node.sync_once()
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "pushed": report.pushed, "pulled": report.pulled, "child_mb": peak_mb}))


if __name__ == "__main__":
    if sys.argv[1:2] == ["round"]:
        _round_main(sys.argv[2])
    else:
        print("\n".join(report()))
