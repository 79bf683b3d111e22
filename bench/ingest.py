"""Issue 18's hub ingest: pre-built, signed batches of applications pushed into a county hub on PostgreSQL, as
fast as it takes them, by one process and by two on the same database.

The county and its stations are provisioned as the fleet simulator does it (`bench/fleet_setup.py`); each
station's applications are filed and cut into signed batches before the clock starts, so what is timed is
the hub: authenticating each push, opening its sealed body, verifying every event's chain and head, deciding,
projecting (the application rows, the statistics) and committing. Stations push at once from SENDERS threads,
each station's batches in order. Events/s is wall-clock; events per hub CPU-second (the served processes'
user + system time from /proc) is the figure a single core would give.

The relay (`relay`): what a city meets, a county's backlog of many stations' small runs (each station pushed
a few events at a time, so its stream's signed heads are a few events apart), taken up by the county's own
`onetrip sync` into the city on PostgreSQL; then the same events from two counties relaying at once.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from harness.servers import ROOT, free_port
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
RELAY_STATIONS, RELAY_EVENTS, RELAY_BATCH = 200, 50, 5  # 10,000 events in runs of 5
RELAY_COUNTIES = (1, 2)


def _batches(station: SimStation, per_station: int = PER_STATION, batch: int = BATCH) -> list[bytes]:
    """The station's applications, filed and cut into signed batches now, so that the timed part is the hub's."""
    cut = []
    for _ in range(per_station // batch):
        station.file(batch)
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


def relay(counties: int = 1) -> tuple[float, float]:
    """One relay on fresh databases: (seconds for the counties' `onetrip sync`, run at once, to bring their
    backlogs into the city, the city's CPU-seconds per 1,000 events). The same events however many counties
    share them: the city applies each county's relays beside the others' (`write_transaction(areas=...)`)."""
    stations = RELAY_STATIONS // counties
    with tempfile.TemporaryDirectory() as tmp, databases(counties + 1) as urls:
        fleet = provision(Path(tmp), Shape(counties, stations, storm_applications=0), urls)
        for k, county in enumerate(fleet.counties):
            server = serve(county.config, Path(tmp) / f"county{k}.log", scheduler="off")
            try:
                url = f"http://127.0.0.1:{county.config.port}"
                work = [(station, _batches(station, RELAY_EVENTS, RELAY_BATCH)) for station in county.stations]
                with ThreadPoolExecutor(SENDERS) as pool:
                    for done in [pool.submit(_push_all, station, url, batches) for station, batches in work]:
                        done.result()
            finally:
                stop(server)
        city = serve(fleet.city, Path(tmp) / "city.log", scheduler="off")
        try:
            cpu = _cpu_s(city.pid)
            started = time.perf_counter()
            syncs = [
                subprocess.Popen(
                    [sys.executable, str(ROOT / "app.py"), "sync", "--data", str(county.config.data_dir)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    cwd=ROOT,
                )
                for county in fleet.counties
            ]
            for sync in syncs:
                _, err = sync.communicate()
                assert sync.returncode == 0, err.decode()
            seconds = time.perf_counter() - started
            cpu = _cpu_s(city.pid) - cpu
        finally:
            stop(city)
        held = events_by_origin(fleet.city.database)
        assert all(held.get(s.installation) == RELAY_EVENTS for s in fleet.stations), "an event lost or doubled"
        return seconds, cpu / (RELAY_STATIONS * RELAY_EVENTS) * 1000


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
    events = RELAY_STATIONS * RELAY_EVENTS
    lines.append(
        f"Relay: counties' backlogs of {events:,} events in all ({RELAY_STATIONS} stations × {RELAY_EVENTS}, signed "
        f"heads every {RELAY_BATCH}) taken up to the city at once, each by its `onetrip sync`"
    )
    lines.append(f"{'counties':>10} {'seconds':>10} {'(min–max)':>14} {'events/s':>10} {'city CPU ms / 1,000 ev':>24}")
    for counties in RELAY_COUNTIES:
        relays = [relay(counties) for _ in range(RUNS)]
        seconds, cpu = [r[0] for r in relays], [r[1] for r in relays]
        median = statistics.median(seconds)
        lines.append(
            f"{counties:>10} {median:>10.2f} {min(seconds):>6.2f}–{max(seconds):<7.2f} {events / median:>10,.0f}"
            f" {statistics.median(cpu) * 1000:>24.0f}"
        )
    return lines


if __name__ == "__main__":
    if sys.argv[1:2] == ["relay"]:  # the relay alone: `python -m bench.ingest relay [counties]`
        print(relay(int(sys.argv[2]) if sys.argv[2:] else 1))
    else:
        print("\n".join(report()))
