"""Issue 18's hub ingest: pre-built, signed batches of applications pushed into a county hub on PostgreSQL, as
fast as it takes them, by one process and by two on the same database.

The county and its stations are provisioned as the fleet simulator does it (`bench/fleet_setup.py`); each
station's applications are filed and cut into signed batches before the clock starts, so what is timed is
the hub: authenticating each push, opening its sealed body, verifying every event's chain and head, deciding,
projecting (the application rows, the statistics) and committing. Stations push at once from SENDERS threads,
each station's batches in order. Events/s is wall-clock; events per hub CPU-second (the served processes'
user + system time from /proc) is the figure a single core would give.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from harness.servers import free_port
from node.link.upstream import PUSH_PATH
from sync.batch import encode_batch
from sync.request import PUSH_CONTEXT
from sync.transport import HttpTransport

from .fleet_setup import Shape, databases, events_by_origin, provision, serve, stop
from .fleet_station import SimStation

STATIONS = int(os.environ.get("ONETRIP_INGEST_STATIONS", 20))
PER_STATION = int(os.environ.get("ONETRIP_INGEST_EVENTS", 500))
BATCH = 250  # events per push, as a station catching up sends them
SENDERS = 4  # the hub's sync slots
RUNS = 3


def _batches(station: SimStation) -> list[bytes]:
    """The station's applications, filed and cut into signed batches now, so that the timed part is the hub's."""
    cut = []
    for _ in range(PER_STATION // BATCH):
        station.file(BATCH)
        cut.append(encode_batch(station.unsent()))
        station.up = station.seq
    station.up = 0  # nothing of it has reached the hub yet
    return cut


def _push_all(station: SimStation, url: str, batches: list[bytes]) -> None:
    transport = HttpTransport(url)
    try:
        channel = station._channel(transport)
        for body in batches:
            channel.call(PUSH_PATH, PUSH_CONTEXT, body)
    finally:
        transport.session.close()


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def run(processes: int) -> tuple[float, float]:
    """One run on fresh databases: (events/s by the clock, events per hub CPU-second)."""
    with tempfile.TemporaryDirectory() as tmp, databases(2) as urls:
        fleet = provision(Path(tmp), Shape(1, STATIONS, storm_applications=0), urls)
        county = fleet.counties[0]
        work = [(station, _batches(station)) for station in county.stations]
        configs = [county.config] + [replace(county.config, port=free_port()) for _ in range(processes - 1)]
        servers = [serve(county.config, Path(tmp) / "county.log")]
        servers += [
            serve(c, Path(tmp) / f"county{k}.log", port=str(c.port), scheduler="off") for k, c in enumerate(configs[1:])
        ]
        urls_served = [f"http://127.0.0.1:{c.port}" for c in configs]
        try:
            cpu = sum(_cpu_s(s.pid) for s in servers)
            started = time.perf_counter()
            with ThreadPoolExecutor(SENDERS) as pool:
                done = [
                    pool.submit(_push_all, station, urls_served[k % processes], batches)
                    for k, (station, batches) in enumerate(work)
                ]
                for future in done:
                    future.result()
            wall = time.perf_counter() - started
            cpu = sum(_cpu_s(s.pid) for s in servers) - cpu
        finally:
            for server in servers:
                stop(server)
        held = events_by_origin(county.config.database)
        events = STATIONS * PER_STATION
        assert all(held.get(s.installation) == PER_STATION for s in county.stations), "an event lost or doubled"
        return events / wall, events / cpu


def report() -> list[str]:
    load = os.getloadavg()
    lines = [
        f"Hub ingest: {STATIONS} stations × {PER_STATION} applications ({STATIONS * PER_STATION:,} events), "
        f"pre-signed batches of {BATCH}, {SENDERS} senders, county hub on PostgreSQL; load {load[0]:.2f} at start",
        f"{'processes':>10} {'events/s':>10} {'(min–max)':>14} {'ev per hub CPU-s':>18}",
    ]
    for processes in (1, 2):
        runs = [run(processes) for _ in range(RUNS)]
        rates, per_cpu = [r[0] for r in runs], [r[1] for r in runs]
        lines.append(
            f"{processes:>10} {statistics.median(rates):>10,.0f} {min(rates):>6,.0f}–{max(rates):<7,.0f}"
            f" {statistics.median(per_cpu):>18,.0f}"
        )
    return lines


if __name__ == "__main__":
    print("\n".join(report()))
