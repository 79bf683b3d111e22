"""Issue 7's fleet simulator: a city's counties on PostgreSQL, their village stations simulated in this process.

The storm: every station reconnects at once after a 24-hour outage, pushing the applications
it filed meanwhile and pulling the two decisions on each earlier one. Then the steady state:
each station syncs every 5 minutes with a few new applications. Stations talk to their
county; counties relay to the city. `ONETRIP_FLEET` picks the shape (`SHAPES`; `full` runs
`county`, then `city`); `make bench` runs `small`. `ONETRIP_FLEET_FAULTS=1` takes the shape's storm through a
restart of PostgreSQL and a killed hub process instead (`bench/fleet_faults.py`). A shape's fleet is provisioned
once and cloned by later runs (`bench/fleet_template.py`; `ONETRIP_FLEET_TEMPLATE=0` provisions fresh,
`ONETRIP_FLEET_PROVISION_ONLY=1` only provisions or clones it).
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2

from harness.postgres import PrivatePostgres
from harness.roundrobin import RoundRobinProxy
from harness.servers import free_port

from .fleet_faults import HEADER, Fault, FaultRun, describe_faults, logged
from .fleet_setup import RELAY_INTERVAL_S, County, Fleet, Shape, events_by_origin, serve, stop
from .fleet_station import SimStation, Stats
from .fleet_template import Made, fleet_for

# Each hub's waitress threads: three sync slots, two places in the waiting room (`web.admission`) and the one
# left free. A waiting request holds no connection: eleven hubs' slots, pages and schedulers stay under the
# PostgreSQL server's 100.
HUB_SETTINGS = {"threads": "6", "sync_max_in_flight": "3"}
SHAPES = {
    "tiny": Shape(1, 5, storm_applications=3, steady_period_s=3, steady_window_s=3),  # the test's: every part once
    "small": Shape(2, 10, steady_window_s=20),
    "county": Shape(1, 600),
    "city": Shape(10, 60),  # 5,561 stations in 10 counties scaled to 600 in 10: the relays' shape, not their load
    "metro": Shape(10, 556),  # the whole city of our sources: 5,560 stations in 10 counties
}
STORM_WORKERS = 1000  # connections the simulator holds open at once: every station is started, 1,000 at a time
STEADY_WORKERS = 32
RELAY_TIMEOUT_S = 1800
PY_SPY = Path(sys.executable).with_name("py-spy")
PROFILED = os.environ.get("ONETRIP_FLEET_PROFILE", "county")  # the hub py-spy follows in the storm: or "city"
TICKS = os.sysconf("SC_CLK_TCK")
OURS = re.compile(r"\((sync|node|storage|provisioning|web)/")  # py-spy names frames "function (path:line)"
LINE = re.compile(r":\d+\)$")


@dataclass
class Phase:
    name: str
    seconds: float
    events: int  # moved between stations and their counties
    stats: Stats
    simulator_cpu_s: float
    hub_cpu_s: float  # the county processes together
    started: float  # perf_counter
    city_s: float | None = None  # until the city held every station's events
    dashboard_lag_s: float | None = None  # the longest a filing waited to be counted on the city's dashboard
    profile: list[str] = field(default_factory=list)

    def row(self) -> str:
        lat = sorted(self.stats.latencies_s)
        p50, p99 = (statistics.median(lat), lat[min(len(lat) - 1, int(len(lat) * 0.99))]) if lat else (0.0, 0.0)
        city = f"{self.city_s:8.1f}" if self.city_s is not None else f"{'—':>8}"
        return (
            f"{self.name:<8} {self.seconds:8.1f} {city} {self.events:>8,} {self.events / self.seconds:>8,.0f} "
            f"{len(lat):>8,} {p50 * 1000:>7.0f} {p99 * 1000:>7.0f} {self.stats.busy:>6,} {len(self.stats.errors):>6,} "
            f"{self.simulator_cpu_s:>7.1f} {self.hub_cpu_s:>7.1f}"
        )


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def _hub_cpu_s(fleet: Fleet) -> dict[int, float]:
    return {p.pid: _cpu_s(p.pid) for county in fleet.counties for p in county.processes}


def _measured(fleet: Fleet, name: str, work: Callable[[Stats], int]) -> Phase:
    stats, hub_before = Stats(), _hub_cpu_s(fleet)
    sim_before, started = time.process_time(), time.perf_counter()
    events = work(stats)
    seconds = time.perf_counter() - started
    # A process killed meanwhile took its CPU time with it; the one started in its place counts from zero.
    hub_cpu_s = sum(cpu - hub_before.get(pid, 0.0) for pid, cpu in _hub_cpu_s(fleet).items())
    return Phase(name, seconds, events, stats, time.process_time() - sim_before, hub_cpu_s, started)


def storm(fleet: Fleet, shape: Shape, faults: FaultRun | None = None) -> Phase:
    """All at once, each station with its outage's applications to push and their decisions to pull; with
    `faults`, inflicted mid-storm while the stations keep syncing until they are over."""
    stations = fleet.stations
    moved = sum(s.seq + s.received for s in stations)
    for station in stations:
        station.file(shape.storm_applications)  # offline, before the clock starts
    hub = PROFILED if PROFILED == "city" else "county"
    process = fleet.city_process if hub == "city" else fleet.counties[0].processes[-1]  # the one never killed
    profiler = _profile(process.pid, fleet.base / "storm.prof")
    rounds = faults.rounds if faults else SimStation.sync_round

    def work(stats: Stats) -> int:
        inflicting = faults.start_inflicting(stats) if faults else None
        with ThreadPoolExecutor(max_workers=min(len(stations), STORM_WORKERS)) as pool:
            finished = list(pool.map(lambda s: rounds(s, stats), stations))
        if inflicting:
            inflicting.join()
        stats.errors += [f"{s.station}: gave up" for s, ok in zip(stations, finished, strict=True) if not ok]
        return sum(s.seq + s.received for s in stations) - moved  # each filing up, each decision down

    with DashboardWatch(fleet.databases[0]) as watch:
        phase = _measured(fleet, "faults" if faults else "storm", work)
        if faults and faults.failed:
            raise RuntimeError("the faults could not be inflicted") from faults.failed
        phase.profile = _profile_summary(profiler, fleet.base / "storm.prof", hub)
        phase.city_s = _wait_relayed(fleet) - phase.started
    phase.dashboard_lag_s = watch.worst_lag_s(phase.stats.pushed_at)
    return phase


class DashboardWatch:
    """Dashboard freshness at the city during the storm. Its figures are counters the projection keeps as
    events are applied (`statistic`, read by `node.hub.dashboard`), so a filing counts there once the city has
    applied it: sampling the city's `filed` total every second, against when each filing was acknowledged
    by its county, gives how long the oldest acknowledged filing waited to be counted. A county's own
    dashboard counts a filing in the transaction that acknowledges it: no lag there."""

    def __init__(self, url: str):
        self.url = url
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> DashboardWatch:
        self.baseline = _filed(self.url)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.perf_counter(), _filed(self.url)))

    def _sample(self) -> None:
        while not self._stop.wait(1.0):
            with contextlib.suppress(psycopg2.OperationalError):  # the fault run's server restarting: no sample
                self.samples.append((time.perf_counter(), _filed(self.url)))

    def worst_lag_s(self, pushed_at: list[float]) -> float:
        acknowledged = sorted(pushed_at)
        worst = 0.0
        for at, filed in self.samples:
            shown = filed - self.baseline
            if shown < bisect.bisect_right(acknowledged, at):  # some acknowledged filing is not counted yet
                worst = max(worst, at - acknowledged[shown])
        return worst


def _filed(url: str) -> int:
    with psycopg2.connect(url) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT COALESCE(SUM(filed), 0) FROM statistic")
        return int(cursor.fetchone()[0])


def steady(fleet: Fleet, shape: Shape) -> Phase:
    """Each station syncs every `steady_period_s`, its rounds spread uniformly over the period: the first
    `steady_window_s` of it are run in real time, so the hub sees the real rate of requests."""
    rng = random.Random(7)
    period = shape.steady_period_s
    due = sorted((at, s) for s in fleet.stations if (at := rng.uniform(0, period)) < shape.steady_window_s)

    def work(stats: Stats) -> int:
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=STEADY_WORKERS) as pool:
            futures = []
            for at, station in due:
                time.sleep(max(0.0, start + at - time.perf_counter()))
                station.file(shape.steady_events)
                futures.append(pool.submit(station.sync_round, stats))
            time.sleep(max(0.0, start + shape.steady_window_s - time.perf_counter()))
            stats.errors += [f"{s.station}: gave up" for (_, s), f in zip(due, futures, strict=True) if not f.result()]
        return len(due) * shape.steady_events

    return _measured(fleet, "steady", work)


def _wait_relayed(fleet: Fleet) -> float:
    """When the city held every event its counties hold from below it (not what came from the city)."""
    deadline = time.monotonic() + RELAY_TIMEOUT_S
    while time.monotonic() < deadline:
        at = time.perf_counter()
        if not _missing_at_city(fleet):
            return at
        time.sleep(1)
    raise RuntimeError("the city did not catch up with its counties")


def _missing_at_city(fleet: Fleet) -> int:
    city = events_by_origin(fleet.databases[0])
    below = Counter()
    for county in fleet.counties:
        below.update({o: n for o, n in events_by_origin(county.config.database).items() if o not in fleet.city_origins})
    return sum(n - city.get(origin, 0) for origin, n in below.items() if city.get(origin, 0) < n)


@dataclass(frozen=True)
class Checked:
    sent: int  # events the stations made
    lost: int  # missing at a county or at the city
    duplicated: int
    short: int  # stations that did not pull exactly their decisions

    def line(self, decisions: int) -> str:
        return (
            f"check: {self.sent:,} station events sent; at the counties and the city: {self.lost} lost, "
            f"{self.duplicated} duplicated; stations not pulling exactly their {decisions} decisions: {self.short}"
        )


def check(fleet: Fleet, shape: Shape) -> Checked:
    """Per station: what it sent against what its county and the city hold, and what it pulled."""
    city = events_by_origin(fleet.databases[0])
    lost = duplicated = 0
    for county in fleet.counties:
        held = events_by_origin(county.config.database)
        for station in county.stations:
            for count in (held.get(station.installation, 0), city.get(station.installation, 0)):
                lost += max(0, station.seq - count)
                duplicated += max(0, count - station.seq)
    short = sum(1 for s in fleet.stations if s.received != 2 * shape.storm_applications)
    return Checked(sum(s.seq for s in fleet.stations), lost, duplicated, short)


def _profile(pid: int, out: Path) -> subprocess.Popen | None:
    if not PY_SPY.exists():
        return None
    return subprocess.Popen(
        [str(PY_SPY), "record", "--pid", str(pid), "--format", "raw", "--output", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _profile_summary(profiler: subprocess.Popen | None, out: Path, hub: str, top: int = 10) -> list[str]:
    """Where the profiled hub (the first county's, or the city's) spent its CPU during the storm: the share of
    samples in each of our functions (inclusive), and the hottest leaf functions."""
    if profiler is None:
        return ["profile: py-spy not installed in the venv (pip install py-spy)"]
    profiler.send_signal(signal.SIGINT)
    profiler.wait(timeout=60)
    inclusive, leaf, total = Counter(), Counter(), 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames, n = stack.split(";"), int(count)
        total += n
        leaf[frames[-1]] += n
        for function in {LINE.sub(")", frame) for frame in frames if OURS.search(frame)}:
            inclusive[function] += n
    lines = [f"profile of the {hub} hub during the storm (py-spy, {total:,} samples on CPU):"]
    lines += [f"  {n / total:6.1%} incl.  {frame}" for frame, n in inclusive.most_common(top)]
    lines += [f"  {n / total:6.1%} self   {frame}" for frame, n in leaf.most_common(top)]
    return lines


@dataclass(frozen=True)
class Result:
    made: Made
    phases: list[Phase]
    checked: Checked
    faults: list[Fault] = field(default_factory=list)
    logged: Counter = field(default_factory=Counter)  # the hubs' logs: 503s for the database away, 500s


def simulate(shape: Shape, faults: bool = False) -> Result:
    """Provision, serve, storm, steady state, check; the databases and servers are gone afterwards.

    With `faults`: on a PostgreSQL server of the run's own (reached over its unix socket, as docs/operations.md
    has a hub reach its server), each county served by two processes behind one address, and the storm taken
    through restarts of the server and a killed process (`FaultRun`) instead of followed by the steady state."""
    with contextlib.ExitStack() as stack:
        base = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        server = stack.enter_context(PrivatePostgres()) if faults else None
        fleet, made = stack.enter_context(fleet_for(base, shape, server.socket_url if server else None))
        fleet.city_process = serve(fleet.city, base / "city.log", **HUB_SETTINGS)
        stack.callback(stop, fleet.city_process)
        for county in fleet.counties:
            stack.enter_context(_served(county, base, processes=2 if faults else 1))
        _wait_relayed(fleet)  # what the counties held before the storm reaches the city first
        run = FaultRun(server, fleet, shape, lambda county, k: serve_county(county, base, k)) if faults else None
        phases = [storm(fleet, shape, run)] if run else [storm(fleet, shape), steady(fleet, shape)]
        _wait_relayed(fleet)
        return Result(made, phases, check(fleet, shape), run.faults if run else [], logged(base))


@contextlib.contextmanager
def _served(county: County, base: Path, processes: int):
    """A county's hub as `processes` processes on its database; several sit behind a round-robin proxy on the
    county's address, as nginx spreads a hub's processes (docs/operations.md). Stopped afterwards."""
    several = processes > 1
    county.ports = [free_port() for _ in range(processes)] if several else [county.config.port]
    proxy = RoundRobinProxy(county.ports, county.config.port) if several else None
    county.processes = []
    try:
        for k in range(processes):
            county.processes.append(serve_county(county, base, k))
        yield
    finally:
        for process in county.processes:
            stop(process)
        if proxy:
            proxy.close()


def serve_county(county: County, base: Path, k: int) -> subprocess.Popen:
    """Process `k` of a county's hub, on its port; only the first runs the scheduler (docs/operations.md)."""
    port = county.ports[k]
    settings = {"sync_interval_s": str(RELAY_INTERVAL_S), **HUB_SETTINGS, "port": str(port)}
    if k:
        settings["scheduler"] = "off"
    log = base / f"{county.config.data_dir.name}-{k}.log"
    return serve(dataclasses.replace(county.config, port=port), log, **settings)


def prepare(shape: Shape) -> Made:
    """Only the fleet, cloned from the shape's template or provisioned fresh and kept as one, then dropped: a
    long run's provisioning done ahead of it, or a clone timed (`ONETRIP_FLEET_PROVISION_ONLY=1`)."""
    with tempfile.TemporaryDirectory() as base, fleet_for(Path(base), shape) as (_, made):
        return made


def _shape(name: str) -> Shape:
    shape = SHAPES[name]
    if per_county := os.environ.get("ONETRIP_FLEET_STATIONS"):  # a shape's counties at another size
        shape = dataclasses.replace(shape, stations=int(per_county))
    return shape


def _fleet_name(name: str, shape: Shape) -> str:
    counties = f"{shape.counties} count{'y' if shape.counties == 1 else 'ies'}"
    return f"Fleet '{name}': {counties} × {shape.stations} stations on PostgreSQL"


def run(name: str, faults: bool = False) -> list[str]:
    shape = _shape(name)
    result = simulate(shape, faults)
    stations, apps = shape.counties * shape.stations, shape.storm_applications
    after = (
        describe_faults(shape)
        if faults
        else f"steady: a round every {shape.steady_period_s:.0f} s per station with {shape.steady_events} new "
        f"applications, the first {shape.steady_window_s:.0f} s of the period in real time"
    )
    failed = ", ".join(f"{code} {n}" for code, n in sorted(result.phases[0].stats.failures.items())) or "none"
    return [
        f"{_fleet_name(name, shape)}, city relayed every {RELAY_INTERVAL_S} s ({result.made.describe()}); "
        f"storm: {stations} stations at once, {apps} applications up and 2 decisions on each of {apps} earlier ones "
        f"down; {after}",
        f"{'phase':<8} {'county s':>8} {'city s':>8} {'events':>8} {'ev/s':>8} {'requests':>8} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'busy':>6} {'errors':>6} {'sim cpu':>7} {'hub cpu':>7}",
        *(phase.row() for phase in result.phases),
        result.checked.line(2 * apps),
        f"dashboard lag at the city during the storm: worst {result.phases[0].dashboard_lag_s:.1f} s from a "
        "county acknowledging a filing to the city's dashboard counting it (a county's own counts it at once)",
        *([HEADER, *(fault.row() for fault in result.faults)] if faults else []),
        f"failed tries in the storm by code: {failed}; the hubs' logs: "
        + ", ".join(f"{what} {n:,}" for what, n in sorted(result.logged.items())),
        *(error for phase in result.phases for error in phase.stats.errors[:5]),
        *result.phases[0].profile,
    ]


def report() -> list[str]:
    name = os.environ.get("ONETRIP_FLEET", "small")
    faults = os.environ.get("ONETRIP_FLEET_FAULTS", "") not in ("", "0")
    only = os.environ.get("ONETRIP_FLEET_PROVISION_ONLY", "") not in ("", "0")
    lines = []
    for shape in ("county", "city") if name == "full" else (name,):
        if only:
            made = prepare(_shape(shape))
            lines += [f"{_fleet_name(shape, _shape(shape))}: {made.describe()}; not run (provisioning only)", ""]
        else:
            lines += [*run(shape, faults), ""]
    return lines


if __name__ == "__main__":
    print("\n".join(report()))
