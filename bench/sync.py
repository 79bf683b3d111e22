"""Issue 5's benchmark: W1–W5 of ../shared/bench/WORKLOADS.md between a village station and its county
hub, through a counting TCP proxy, each run three times on a fresh copy of the same state, with the
hub on SQLite and then on PostgreSQL (the same county, its rows copied into a fresh database).

The hub is a real `onetrip serve` process; each sync round runs in its own process, so that the
peak RSS of each side is its own. Applications are filed through the real intake (validation,
field encryption, events). W2–W4 start from the W1 state (`ONETRIP_BENCH_SYNC_APPLICATIONS`
applications, 10,000 by default) rather than 100,000: filing 100,000 through intake takes minutes.
W5 has a state of its own: 200 applications, each with a 200 KB scan of random bytes; it syncs it
once, then on a fresh copy cuts the link when about half the scans' bytes have gone up and syncs
again. `ONETRIP_BENCH_WORKLOADS` (say `W5`, or `W1,W4`) chooses what runs; W1–W4 share one state,
so choosing one of them runs the chain up to it. W2 is the first round in a fresh process and, as
"W2 idle, warm", the median of twenty more in it (a station's scheduler runs its rounds in one process);
"hub CPU ms" is the served hub's CPU time (every thread, not PostgreSQL's) during a round, read by the round's
process around it (for "warm", the median of the twenty).
"""

from __future__ import annotations

import contextlib
import gc
import gzip
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import orjson
import psycopg2

from harness.servers import free_port, settled, start, stop
from harness.tree import provision_county
from node.cases.intake import attach_scan, transition
from node.cli.demo import enrol_by_bundle
from node.config import NodeConfig
from node.fleet import admin as fleet
from node.link import upstream
from node.runtime import Node, initialise
from provisioning.identity import load_identity, save_identity
from storage.database import bind, close, db, open_database, sqlite_url
from storage.migrations import migrate
from storage.models import Application, BaseModel, SchemaVersion
from sync.errors import SyncError
from sync.log.deciding import Deciding
from sync.log.state import APPLIED, Decision
from sync.projection import Registry

from .proxy import CountingProxy
from .records import applications
from .workbench import _fill

POSTGRES_BASE = "postgresql://postgres@127.0.0.1:5432"
COUNT = int(os.environ.get("ONETRIP_BENCH_SYNC_APPLICATIONS", 10_000))
RUNS = 3
CHANGED, DECIDED = 100, 1_000
IDLE_ROUNDS = 21  # W2: the first round in a fresh process, then 20 more in it (a station's rounds are)
SCANNED, SCAN_BYTES = 200, 200 * 1024
CHAIN = ("W1 backlog", "W2 idle", "W3 small delta", "W4 pull")  # each starts from the state the one before left
WORKLOADS = {w.strip().upper() for w in os.environ.get("ONETRIP_BENCH_WORKLOADS", "W1,W2,W3,W4,W5").split(",")}
ALGORITHM = "ecdsa-p256-sha256"
APP = Path(__file__).resolve().parents[1] / "app.py"


def _template(base: Path, count: int, whole: bool = False) -> tuple[NodeConfig, NodeConfig]:
    """A county with a village enrolled by bundle, the village holding `count` applications filed offline;
    `whole`, each with the record's agent, note and five material references (`workbench._fill`)."""
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
    _fill(node, count, whole)
    node.events.sign_heads()
    close()
    return tree.county, village


def _scanned_template(base: Path) -> None:
    """W5: SCANNED applications filed offline, each with one scan of SCAN_BYTES random bytes (behind a
    JPEG's first bytes, which intake checks for)."""
    _, village = _template(base, SCANNED)
    node = Node.from_config(village)
    rng = random.Random(42)
    for (number,) in Application.select(Application.number).order_by(Application.number).tuples():
        data = b"\xff\xd8\xff\xe0" + rng.randbytes(SCAN_BYTES - 4)
        attach_scan(node.events, node.identity, node.keys, node.blobs, number, "身份证", data, "cun.agent")
    node.events.sign_heads()
    close()


def _round(village: Path, hub_pid: int, rounds: int = 1, scans: bool = True, deciding: bool = True) -> dict:
    """`rounds` of `sync_once` in a fresh process: the first one's wall seconds and hub CPU (the round only,
    in a process that has done none yet), the median of the others' (a station's scheduler runs its rounds
    in one long-lived process), and the process's peak RSS. The hub's CPU is read around each round, so its
    own jobs while the station's process starts are not charged to the rounds. Without `scans`, the rounds
    leave out the scans' exchange: W1–W4 carry no blob bytes, and W1's material references name scans the
    station does not hold. Without `deciding`, the station keeps what it pulls as applied without deciding it: no
    trust check, no causal order, no projection, no application row read or written (`bench.floor`)."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.sync", "round", str(village), str(hub_pid), str(rounds)]
        + ([] if scans else ["events"])
        + ([] if deciding else ["undecided"]),
        capture_output=True,
        text=True,
        check=True,
        cwd=APP.parent,
        env={**os.environ, "ONETRIP_SYNC_INTERVAL_S": "86400"},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _peak_mb(pid: int | str) -> float:
    """A process's own peak resident memory (VmHWM): `ru_maxrss` would carry the bench parent's peak across
    the fork and exec that started it, and report every round as big as the parent."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
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


@contextmanager
def _linked(template: Path, work: Path, postgres_url: str | None):
    """A fresh copy of the state: the county served (on PostgreSQL if a URL is given), the village's
    parent behind a counting proxy. Yields the county's and village's dirs, the server and the proxy."""
    shutil.copytree(template, work)
    county, village = work / "county", work / "village"
    if postgres_url:
        _move_hub_to_postgres(county, postgres_url)
    port = free_port()
    server = start(["serve", "--data", str(county)], port)
    settled(server)
    proxy = CountingProxy(port)
    identity, _ = load_identity(village)
    save_identity(village, identity.__class__(**{**identity.__dict__, "parent_url": f"http://127.0.0.1:{proxy.port}"}))
    try:
        yield county, village, server, proxy
    finally:
        proxy.close()
        stop(server)


def _cpu_s(pid: int) -> float:
    """A process's CPU time so far, every thread's, from the scheduler's nanosecond counters (a clock tick
    of `/proc/<pid>/stat` is 10 ms, longer than an idle round's share)."""
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            total += int(stat.read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):  # a thread that ended meanwhile
            continue
    return total / 1e9


def _measured(
    village: Path, server: subprocess.Popen, proxy: CountingProxy, rounds: int = 1, scans: bool = True
) -> dict:
    """A round's figures; with `rounds`, the bytes are a round's share of them all."""
    proxy.reset()
    figures = _round(village, server.pid, rounds, scans)
    time.sleep(0.2)  # the proxy's pumps finish counting the last bytes
    return {**figures, "up": proxy.up / rounds, "down": proxy.down / rounds, "hub_mb": _peak_mb(server.pid)}


def _chain(template: Path, work: Path, database) -> dict[str, dict]:
    """W1–W4 on one state, up to the last one chosen; the chosen ones' figures."""
    county, village = work / "county", work / "village"
    steps = {
        "W1 backlog": None,
        "W2 idle": None,
        "W3 small delta": lambda: _change_at_village(village),
        "W4 pull": lambda: _decide_at_hub(county),
    }
    last = max(i for i, name in enumerate(CHAIN) if name[:2] in WORKLOADS)
    results = {}
    with _linked(template, work, database()) as (_, _, server, proxy):
        for name in CHAIN[: last + 1]:
            if steps[name]:
                steps[name]()
            figures = _measured(village, server, proxy, IDLE_ROUNDS if name == "W2 idle" else 1, scans=False)
            if name[:2] in WORKLOADS:
                results[name] = figures
            if figures.get("warm_seconds") is not None and name[:2] in WORKLOADS:
                results[name + ", warm"] = {
                    **figures,
                    "seconds": figures["warm_seconds"],
                    "hub_cpu_ms": figures["warm_hub_cpu_ms"],
                }
    return results


def _scans(template: Path, work: Path, database) -> dict[str, dict]:
    """W5: one full sync; then, on a fresh copy, the link cut at half the full sync's bytes up and a
    second sync, which should send only what had not arrived."""
    with _linked(template, work / "full", database()) as (_, village, server, proxy):
        full = _measured(village, server, proxy)
    with _linked(template, work / "cut", database()) as (county, village, server, proxy):
        proxy.cut_after(full["up"] // 2)
        cut = _measured(village, server, proxy)
        arrived = sum(1 for path in (county / "blobs").glob("??/*"))
        proxy.restore()
        after = _measured(village, server, proxy)
    return {"W5 scans": full, "W5 cut at 50%": {**cut, "arrived": arrived}, "W5 after the cut": after}


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):,.3f} ({min(values):,.3f}–{max(values):,.3f})"


def report() -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        lines, runs, gzipped = [], [], None
        if WORKLOADS & {name[:2] for name in CHAIN}:
            records = applications(COUNT)
            gzipped = len(gzip.compress(b"\n".join(orjson.dumps(r) for r in records)))
            started = time.perf_counter()
            _template(tmp / "chain", COUNT, whole=True)
            lines.append(
                f"Sync, village → county hub through a counting proxy, {COUNT:,} applications filed offline "
                f"(setup {time.perf_counter() - started:.0f} s), {RUNS} runs: median (min–max)"
            )
            runs.append(lambda work, database: _chain(tmp / "chain", work, database))
        if "W5" in WORKLOADS:
            started = time.perf_counter()
            _scanned_template(tmp / "scans")
            lines.append(
                f"W5: {SCANNED} applications filed offline, each with a {SCAN_BYTES // 1024} KB scan of random bytes "
                f"(setup {time.perf_counter() - started:.0f} s), {RUNS} runs: median (min–max)"
            )
            runs.append(lambda work, database: _scans(tmp / "scans", work, database))
        admin = _postgres_admin()
        for title, maker in (("hub on SQLite", None), ("hub on PostgreSQL", admin)):
            if title.endswith("PostgreSQL") and admin is None:
                lines.append("hub on PostgreSQL: not measured, no server at " + POSTGRES_BASE)
                continue
            results = []
            for i in range(RUNS):
                with _databases(maker) as database:
                    results.append({k: v for run in runs for k, v in run(tmp / f"{title[7:]}{i}", database).items()})
            lines += _table(title, results, gzipped)
    return lines


@contextmanager
def _databases(admin):
    """A maker of fresh PostgreSQL databases for the hub, each dropped afterwards; without `admin`,
    the hub stays on SQLite (the maker gives None)."""
    made = []

    def make() -> str | None:
        if admin is None:
            return None
        name = f"onetrip_bench_{uuid.uuid4().hex[:10]}"
        admin.cursor().execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return f"{POSTGRES_BASE}/{name}"

    try:
        yield make
    finally:
        for name in made:
            admin.cursor().execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def _postgres_admin():
    try:
        admin = psycopg2.connect(f"{POSTGRES_BASE}/postgres", connect_timeout=3)
    except psycopg2.OperationalError:
        return None
    admin.autocommit = True
    return admin


def _table(title: str, runs: list[dict], gzipped: int | None) -> list[str]:
    lines = [
        f"{title:<19} {'seconds':>24} {'bytes up':>12} {'bytes down':>12} {'RSS child/hub MB':>18} {'hub CPU ms':>10}"
    ]
    for name in runs[0]:
        rows = [run[name] for run in runs]
        up, down, child, hub, cpu = (
            statistics.median(r[k] for r in rows) for k in ("up", "down", "child_mb", "hub_mb", "hub_cpu_ms")
        )
        seconds = _median([r["seconds"] for r in rows])
        lines.append(f"{name:<19} {seconds:>24} {up:>12,.0f} {down:>12,.0f} {child:>8.0f}/{hub:<8.0f} {cpu:>10.2f}")
    if gzipped is not None and "W1 backlog" in runs[0]:
        w1 = statistics.median(run["W1 backlog"]["up"] + run["W1 backlog"]["down"] for run in runs)
        lines.append(f"W1 bytes on the wire / gzip of the records as JSON lines ({gzipped:,} B): {w1 / gzipped:.2f}")
    if "W5 scans" in runs[0]:
        lines.append(_resumed(runs))
    return lines


def _resumed(runs: list[dict]) -> str:
    """Whether the sync after the cut sent only what had not arrived: its bytes up against the full sync's."""
    full, cut, after = (
        statistics.median(run[name]["up"] for run in runs) for name in ("W5 scans", "W5 cut at 50%", "W5 after the cut")
    )
    arrived = statistics.median(run["W5 cut at 50%"]["arrived"] for run in runs)
    failed = sum(1 for run in runs if run["W5 cut at 50%"].get("error"))
    return (
        f"W5 bytes up / the scans' bytes ({SCANNED * SCAN_BYTES:,} B): {full / (SCANNED * SCAN_BYTES):.2f}; "
        f"cut: {arrived:.0f} of {SCANNED} scans had arrived when the link went down ({failed}/{len(runs)} rounds "
        f"failed there); the sync after it sent {after / full:.0%} of the full sync's bytes up, "
        f"cut + after = {(cut + after) / full:.0%}"
    )


def _round_main(village: str, hub_pid: int, rounds: int, events_only: bool, undecided: bool) -> None:
    """`rounds` rounds; a round the link cut (W5) reports its error instead of failing the benchmark."""
    if undecided:
        _decide_nothing()
    node = Node.from_config(NodeConfig.load(Path(village)))
    gc.collect()
    gc.freeze()  # as a serving station's warm-up leaves its process before its rounds run (`Node.warm_up`)
    times, hub_ms, report, error = [], [], None, None
    no_scans = mock.patch.object(upstream.scans, "exchange", lambda node, parent: (0, 0))
    for _ in range(rounds):
        started, hub_started = time.perf_counter(), _cpu_s(hub_pid)
        try:
            with no_scans if events_only else contextlib.nullcontext():
                report = node.sync_once()
        except SyncError as exc:
            report, error = None, exc.code
        times.append(time.perf_counter() - started)
        hub_ms.append((_cpu_s(hub_pid) - hub_started) * 1000)
    peak_mb = _peak_mb("self")
    pushed, pulled = (report.pushed, report.pulled) if report else (None, None)
    warm = {"warm_seconds": None}
    if rounds > 1:
        warm = {"warm_seconds": statistics.median(times[1:]), "warm_hub_cpu_ms": statistics.median(hub_ms[1:])}
    figures = {"pushed": pushed, "pulled": pulled, "child_mb": peak_mb, "error": error, "hub_cpu_ms": hub_ms[0]}
    print(json.dumps({"seconds": times[0], **warm, **figures}))


def _decide_nothing() -> None:
    """This process's log keeps every event it is given as applied, and reads nothing ahead for deciding."""
    Deciding._decide = lambda self, event, known: Decision(APPLIED)
    Deciding._read_ahead = lambda self, events: None
    Registry.read_ahead = lambda self, events: None


if __name__ == "__main__":
    if sys.argv[1:2] == ["round"]:
        flags = sys.argv[5:]
        _round_main(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), "events" in flags, "undecided" in flags)
    else:
        print("\n".join(report()))
