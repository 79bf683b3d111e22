"""Issue 18's idle round at the hub: what one pull that finds nothing new costs the hub's CPU, served whole
(waitress, the sync endpoints, the handler), on a connection kept alive and on a new connection each, as a
station's scheduler opens one per round.

A village of APPLICATIONS applications, filed offline, syncs once with its county hub (`onetrip serve` on
SQLite); then IDLE_PULLS genuine pulls are signed and sealed by the village's own channel, each kept instead of
sent, carrying what a round's first pull reports (the village's figures: `health.report`), and posted one after
another to the hub. The hub's CPU is read from the kernel's count for the process (user + system, exited
threads included: summing the live threads' own counters lost those of a thread that ended meanwhile) around
the last REPLAYED of them: the first ones warm it up (each of waitress's threads pays its first request once).
Every pull must be answered 200: a replayed nonce would be refused, so each is sent once.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import requests

from harness.servers import free_port, settled, start, stop
from node.config import NodeConfig
from node.link import health, upstream
from node.link.status import link_status
from node.runtime import Node
from provisioning.identity import load_identity, save_identity
from storage.database import close
from sync import canonical
from sync.request import PULL_CONTEXT

from .ingest import _cpu_s
from .sync import _template

APPLICATIONS = 200
IDLE_PULLS, REPLAYED = 2_200, 2_000
RUNS = 3


class _Kept:
    """A transport that keeps each signed request instead of sending it."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []

    def post(self, path: str, headers: dict[str, str], body: bytes) -> bytes:
        self.requests.append((path, headers, body))
        raise upstream.Unreachable("kept")


def _idle_pulls(village: Path, count: int) -> list[tuple[str, dict[str, str], bytes]]:
    """`count` pulls of the village from its down-cursor, signed and sealed now, none sent."""
    node = Node.from_config(NodeConfig.load(village))
    kept = _Kept()
    parent = upstream.Parent(node, kept)
    cursor = upstream.link_row(parent.station).down_cursor
    mine = link_status(node)
    status = health.report(node, parent.station, mine.pending_events, mine.oldest_unsent_s)
    for _ in range(count):
        try:
            parent.call(upstream.PULL_PATH, PULL_CONTEXT, canonical.encode({"cursor": cursor, "status": status}))
        except upstream.Unreachable:
            pass
    close()
    return kept.requests


def _posted(url: str, pulls: list, pid: int, new_connections: bool) -> tuple[float, float, int]:
    """Post the pulls one after another: (hub CPU ms per pull, wall ms per pull, the last answer's bytes) over
    the last REPLAYED."""
    session = requests.Session()
    try:
        for k, (path, headers, body) in enumerate(pulls):
            if k == len(pulls) - REPLAYED:
                cpu, started = _cpu_s(pid), time.perf_counter()
            if new_connections:
                session.close()
                session = requests.Session()
            answer = session.post(url + path, headers=headers, data=body, timeout=30)
            assert answer.status_code == 200, answer.text
        wall, cpu = time.perf_counter() - started, _cpu_s(pid) - cpu
    finally:
        session.close()
    return cpu / REPLAYED * 1000, wall / REPLAYED * 1000, len(answer.content)


def run(base: Path) -> tuple[tuple[float, float, int], tuple[float, float, int]]:
    """One run on a fresh state: (hub CPU ms per idle pull, wall ms per pull, answer bytes) kept alive, and on
    a new connection each."""
    county, village = _template(base, APPLICATIONS)
    port = free_port()
    server = start(["serve", "--data", str(county.data_dir)], port, settings={"ONETRIP_SYNC_INTERVAL_S": "86400"})
    settled(server)
    try:
        identity, _ = load_identity(village.data_dir)
        save_identity(
            village.data_dir, identity.__class__(**{**identity.__dict__, "parent_url": f"http://127.0.0.1:{port}"})
        )
        Node.from_config(NodeConfig.load(village.data_dir)).sync_once()  # the backlog up, nothing left to pull
        close()
        pulls = _idle_pulls(village.data_dir, 2 * IDLE_PULLS)
        url = f"http://127.0.0.1:{port}"
        kept = _posted(url, pulls[:IDLE_PULLS], server.pid, new_connections=False)
        return kept, _posted(url, pulls[IDLE_PULLS:], server.pid, new_connections=True)
    finally:
        stop(server)


def report() -> list[str]:
    load = os.getloadavg()[0]
    results = []
    for k in range(RUNS):
        with tempfile.TemporaryDirectory() as tmp:
            results.append(run(Path(tmp) / str(k)))
    lines = [
        f"Idle pull at the county hub (SQLite): {REPLAYED:,} signed pulls after {IDLE_PULLS - REPLAYED} that warm it, "
        f"each with the village's report, a village of {APPLICATIONS} applications; load {load:.2f} at start",
        f"{'':<28} {'kept alive':>22} {'a new connection each':>24}",
    ]
    for name, k, target in (("hub CPU ms per pull", 0, "   target ≤ 1"), ("wall ms per pull", 1, "")):
        figures = [_median([run[mode][k] for run in results]) for mode in (0, 1)]
        lines.append(f"{name:<28} {figures[0]:>22} {figures[1]:>24}{target}")
    return [*lines, f"{'answer bytes':<28} {results[0][0][2]:>22}"]


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f}–{max(values):.3f})"


if __name__ == "__main__":
    print("\n".join(report()))
