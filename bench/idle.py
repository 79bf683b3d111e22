"""Issue 18's idle round at the hub: what one pull that finds nothing new costs the hub's CPU, served whole
(waitress, the sync endpoints, the handler) on a connection kept alive.

A village of APPLICATIONS applications, filed offline, syncs once with its county hub (`onetrip serve` on
SQLite); then IDLE_PULLS genuine pulls are signed and sealed by the village's own channel, each kept instead of
sent, and posted one after another to the hub over one HTTP connection. The hub's CPU is read from the kernel's
count for the process (user + system, exited threads included: summing the live threads' own counters lost
those of a thread that ended meanwhile) around the last REPLAYED of them: the first ones warm it up (each of
waitress's threads pays its first request once). Every pull must be answered 200: a replayed nonce would be
refused, so each is sent once.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import requests

from harness.servers import free_port, start, stop
from node.config import NodeConfig
from node.link import upstream
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
    for _ in range(count):
        try:
            parent.call(upstream.PULL_PATH, PULL_CONTEXT, canonical.encode({"cursor": cursor, "status": None}))
        except upstream.Unreachable:
            pass
    close()
    return kept.requests


def run(base: Path) -> tuple[float, float, int]:
    """One run on a fresh state: (hub CPU ms per idle pull, wall ms per pull, answer bytes)."""
    county, village = _template(base, APPLICATIONS)
    port = free_port()
    server = start(["serve", "--data", str(county.data_dir)], port, settings={"ONETRIP_SYNC_INTERVAL_S": "86400"})
    try:
        identity, _ = load_identity(village.data_dir)
        save_identity(
            village.data_dir, identity.__class__(**{**identity.__dict__, "parent_url": f"http://127.0.0.1:{port}"})
        )
        Node.from_config(NodeConfig.load(village.data_dir)).sync_once()  # the backlog up, nothing left to pull
        close()
        pulls = _idle_pulls(village.data_dir, IDLE_PULLS)
        with requests.Session() as session:
            for k, (path, headers, body) in enumerate(pulls):
                if k == len(pulls) - REPLAYED:
                    cpu, started = _cpu_s(server.pid), time.perf_counter()
                answer = session.post(f"http://127.0.0.1:{port}{path}", headers=headers, data=body, timeout=30)
                assert answer.status_code == 200, answer.text
            wall, cpu = time.perf_counter() - started, _cpu_s(server.pid) - cpu
    finally:
        stop(server)
    return cpu / REPLAYED * 1000, wall / REPLAYED * 1000, len(answer.content)


def report() -> list[str]:
    load = os.getloadavg()[0]
    results = []
    for k in range(RUNS):
        with tempfile.TemporaryDirectory() as tmp:
            results.append(run(Path(tmp) / str(k)))
    cpu, wall = [r[0] for r in results], [r[1] for r in results]
    return [
        f"Idle pull at the county hub (SQLite): {REPLAYED:,} signed pulls over one kept-alive connection after "
        f"{IDLE_PULLS - REPLAYED} that warm it, a village of {APPLICATIONS} applications; load {load:.2f} at start",
        f"{'hub CPU ms per pull':<28} {statistics.median(cpu):.3f} ({min(cpu):.3f}–{max(cpu):.3f})   target ≤ 1",
        f"{'wall ms per pull':<28} {statistics.median(wall):.3f} ({min(wall):.3f}–{max(wall):.3f})",
        f"{'answer bytes':<28} {results[0][2]}",
    ]


if __name__ == "__main__":
    print("\n".join(report()))
