"""Issue 18's W4 beside its floor: what pulling DECIDED decisions costs when nothing is done but the work no
design of the apply can skip, against the real round on the same state and machine.

The floor, at the hub: reading the events' bodies, compressing and sealing the answer (AES-GCM). At the
station: opening, inflating and decoding that answer, parsing each event and linking its hash chain,
inserting the event rows and updating the application rows in one transaction, committed as a node commits
(WAL, synchronous FULL). Left out of it: the request's signature and key agreement, HTTP, the signed heads'
signatures, deciding (causal order, trust's authorisation of each event), the projection (deadlines,
statistics, the application's other columns), the cursor. The real round does all of that too, so a target
below the floor is not met by making deciding and projecting faster.

A village of APPLICATIONS applications syncs its backlog up to its county (`onetrip serve` on SQLite), the
county accepts DECIDED of them; the real round is `bench.sync`'s W4 (the first round of a fresh process,
`bench.sync._round`), each on a fresh copy of that state; the answer the floor seals is the one the hub gave.

Beside them, the real round with the station deciding nothing (`bench.sync._round` without `deciding`): every
event pulled is kept as applied, with no trust check, causal order, projection or row read ahead or written.
What it costs is what the round costs whatever deciding and projecting cost: a target below it cannot be met by
making them faster.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import statistics
import tempfile
import time
import zlib
from contextlib import contextmanager
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from harness.servers import free_port, settled, start, stop
from node.config import NodeConfig
from node.link import upstream
from node.runtime import Node
from provisioning.identity import load_identity, save_identity
from storage.database import SQLITE_PRAGMAS, close
from storage.events import _COLUMNS
from sync import canonical
from sync.batch import decode_batch
from sync.chain import GENESIS, link
from sync.event import parse_event
from sync.request import PULL_CONTEXT

from .sync import DECIDED, _decide_at_hub, _round, _template

APPLICATIONS = 2_000
RUNS = 5
DATABASE = "onetrip.db"


@contextmanager
def _served(work: Path):
    """`work`'s county served, and its village pointed at it."""
    port = free_port()
    server = start(["serve", "--data", str(work / "county")], port, settings={"ONETRIP_SYNC_INTERVAL_S": "86400"})
    settled(server)
    identity, _ = load_identity(work / "village")
    save_identity(
        work / "village", identity.__class__(**{**identity.__dict__, "parent_url": f"http://127.0.0.1:{port}"})
    )
    try:
        yield server
    finally:
        stop(server)


def _state(base: Path) -> Path:
    """The village's backlog up at its county, then DECIDED decisions made there and not yet pulled."""
    _template(base / "template", APPLICATIONS)
    shutil.copytree(base / "template", base / "state")
    with _served(base / "state") as server:
        _round(base / "state" / "village", server.pid, scans=False)
    _decide_at_hub(base / "state" / "county")
    return base / "state"


def _answer(state: Path, work: Path) -> bytes:
    """The hub's answer to the village's pull, opened (on a copy: the pull leaves a nonce at the hub)."""
    shutil.copytree(state, work)
    with _served(work):
        node = Node.from_config(NodeConfig.load(work / "village"))
        parent = upstream.Parent(node)
        cursor = upstream.link_row(parent.station).down_cursor
        answer = parent.call(upstream.PULL_PATH, PULL_CONTEXT, canonical.encode({"cursor": cursor, "status": None}))
        close()
    return answer


def _hub_floor(hub: sqlite3.Connection, answer: bytes, key: bytes, nonce: bytes) -> tuple[float, bytes]:
    started = time.perf_counter()
    hub.execute("SELECT arrival, body FROM event ORDER BY arrival DESC LIMIT ?", (DECIDED,)).fetchall()
    sealed = AESGCM(key).encrypt(nonce, zlib.compress(answer, 6), b"")
    return time.perf_counter() - started, sealed


def _station_floor(village: Path, sealed: bytes, key: bytes, nonce: bytes) -> float:
    """The floor's station part on `village`'s database (a copy)."""
    station = sqlite3.connect(village / DATABASE, isolation_level=None)
    for name, value in SQLITE_PRAGMAS.items():
        station.execute(f"PRAGMA {name} = {value}")
    numbers = [n for (n,) in station.execute("SELECT number FROM application ORDER BY number LIMIT ?", (DECIDED,))]
    started = time.perf_counter()
    rows = []
    for _, raws in decode_batch(zlib.decompress(AESGCM(key).decrypt(nonce, sealed, b""))).runs:
        chain = GENESIS
        for e in map(parse_event, raws):
            chain = link(chain, e.eid)
            rows.append((e.eid, e.origin, e.stream, e.seq, e.hlc, e.type, e.entity, e.raw, chain, "applied", None))
    station.execute("BEGIN IMMEDIATE")
    station.executemany(f"INSERT INTO event ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})", rows)
    station.executemany("UPDATE application SET state = 'accepted' WHERE number = ?", [(n,) for n in numbers])
    station.execute("COMMIT")
    seconds = time.perf_counter() - started
    station.close()
    return seconds


def run(base: Path) -> dict[str, list[float]]:
    """RUNS of each on one state: the real W4 round, and the floor's hub and station parts (seconds)."""
    state = _state(base)
    answer = _answer(state, base / "answer")
    key, nonce = AESGCM.generate_key(bit_length=256), os.urandom(12)
    hub = sqlite3.connect(state / "county" / DATABASE)
    figures: dict[str, list[float]] = {"real": [], "undecided": [], "hub": [], "station": []}
    for k in range(RUNS):
        for name, deciding in (("real", True), ("undecided", False)):
            work = base / f"{name}{k}"
            shutil.copytree(state, work)
            with _served(work) as server:
                figures[name].append(_round(work / "village", server.pid, scans=False, deciding=deciding)["seconds"])
        hub_s, sealed = _hub_floor(hub, answer, key, nonce)
        figures["hub"].append(hub_s)
        shutil.copytree(state / "village", base / f"floor{k}")
        figures["station"].append(_station_floor(base / f"floor{k}", sealed, key, nonce))
    hub.close()
    return figures


def report() -> list[str]:
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        figures = run(Path(tmp))
    floor = [h + s for h, s in zip(figures["hub"], figures["station"], strict=True)]
    rows = (("W4, the real round", figures["real"]), ("W4, nothing decided", figures["undecided"]))
    rows += (("floor: hub", figures["hub"]),)
    rows += (("floor: station", figures["station"]), ("floor: both", floor))
    return [
        f"W4 beside its floor: {DECIDED:,} decisions pulled by a village of {APPLICATIONS:,} applications, hub on "
        f"SQLite, {RUNS} runs: median (min–max) ms; load {load:.2f} at start",
        *(f"{name:<22} {_median(values)}" for name, values in rows),
    ]


def _median(seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return f"{statistics.median(ms):>7.1f} ({min(ms):.1f}–{max(ms):.1f})"


if __name__ == "__main__":
    print("\n".join(report()))
