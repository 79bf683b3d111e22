"""Issue 18's faults at scale: mid-storm, the PostgreSQL server under every hub is restarted, then one of a
county's two hub processes is SIGKILLed and started again; the stations keep syncing through both. The hubs
must answer busy while their database is away (never 500) and serve again by themselves once it is back, and
nothing may be lost or applied twice (`bench.fleet.check`).

The server is the run's own (`harness.postgres`): the machine's shared one serves every other test. The process
killed is the county's first, which runs the scheduler and relays to the city. A hub's processes run under
systemd with the packaged unit (`installers/files/onetrip.service`: `Restart=on-failure`, `RestartSec=5`), which
starts a process that died of a signal again 5 s later, so the run does the same; meanwhile the county's one
address (a round-robin proxy, as nginx in docs/operations.md) passes new connections to the other process.
"""

from __future__ import annotations

import math
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

from harness.postgres import PrivatePostgres

from .fleet_setup import County, Fleet, Shape
from .fleet_station import SimStation, Stats

DOWN_S = 4.0  # the server stays down this long (then `pg_ctl start` takes about a second more)
# How it goes down: as `systemctl restart postgresql` does it (sessions ended, a checkpoint), then as a crash
# does (the power, the OOM killer: sessions cut mid-statement, the write-ahead log replayed at the start).
RESTART_MODES = ("fast", "immediate")
RESTART_SEC = 5.0  # the packaged unit's pause before systemd starts a failed process again
FIRST_FAULT_AT = 1 / 3  # of the storm's filings acknowledged: the restart lands mid-storm whatever the size
BETWEEN_S = 2.0  # once every process answers again, this long before the next fault
SETTLE_S = 3.0  # traffic kept up after the killed process is back, before the stations' last rounds
TRAFFIC_PERIOD_S = 3.0  # after its storm round, a station syncs again about this often with new applications
PROBE = "/api/v1/status"  # read from the database: 503 busy while it is away
WAIT_LIMIT_S = 600
UNREACHABLE_LOGGED = "database unreachable on"  # web/errors.py, on each 503 for the database being away
UNEXPECTED_LOGGED = "unexpected error on"  # web/errors.py, on each 500


@dataclass(frozen=True)
class Fault:
    name: str
    at_s: float  # since the storm began
    away_s: float  # the server down, or the process dead, until it was started again
    recovered_s: dict[str, float]  # per hub process: from that start to its first answer from the database
    busy: int  # busy answers the stations had from the fault until every process answered again
    failures: Counter  # failed tries meanwhile, by code

    def row(self) -> str:
        back = ", ".join(f"{name} {s:.1f}" for name, s in self.recovered_s.items())
        failed = ", ".join(f"{code} {n}" for code, n in sorted(self.failures.items())) or "0"
        return f"{self.name:<46} {self.at_s:7.1f} {self.away_s:7.1f} {self.busy:>6,}  {failed:<18} {back}"


HEADER = f"{'fault':<46} {'at s':>7} {'away s':>7} {'busy':>6}  {'failed tries':<18} answering again after s"


class FaultRun:
    """The faults, inflicted from a thread while the stations sync (`rounds`), and what each came to."""

    def __init__(
        self, server: PrivatePostgres, fleet: Fleet, shape: Shape, start: Callable[[County, int], subprocess.Popen]
    ):
        self.server, self.fleet, self.shape, self.start = server, fleet, shape, start
        self.over = threading.Event()
        self.faults: list[Fault] = []
        self.failed: BaseException | None = None

    def rounds(self, station: SimStation, stats: Stats) -> bool:
        """The storm's round, then one every few seconds with new applications until the faults are over, so
        that both land on live traffic at any size (a storm of a few stations is over in a second)."""
        finished = station.sync_round(stats)
        while finished and not self.over.wait(station.rng.uniform(0.5, 1.5) * TRAFFIC_PERIOD_S):
            station.file(self.shape.steady_events)
            finished = station.sync_round(stats)
        return finished

    def start_inflicting(self, stats: Stats) -> threading.Thread:
        thread = threading.Thread(target=self._inflict, args=(stats, time.perf_counter()), daemon=True)
        thread.start()
        return thread

    def _inflict(self, stats: Stats, began: float) -> None:
        try:
            storm = len(self.fleet.stations) * self.shape.storm_applications
            _wait_for(lambda: len(stats.pushed_at) >= math.ceil(storm * FIRST_FAULT_AT), "the storm's first third")
            for mode in RESTART_MODES:
                self.faults.append(self._restart_database(mode, stats, began))
                time.sleep(BETWEEN_S)
            self.faults.append(self._kill_process(self.fleet.counties[0], stats, began))
            time.sleep(SETTLE_S)
        except BaseException as exc:  # reported by `bench.fleet.storm` once the stations have stopped
            self.failed = exc
        finally:
            self.over.set()

    def _restart_database(self, mode: str, stats: Stats, began: float) -> Fault:
        before, at = _tally(stats), time.perf_counter()
        down_at, back_at = self.server.restart(DOWN_S, mode)
        recovered = _answering(self._processes(), back_at)
        name = f"PostgreSQL stopped (-m {mode}) and started"
        return Fault(name, at - began, back_at - down_at, recovered, *_since(stats, before))

    def _kill_process(self, county: County, stats: Stats, began: float) -> Fault:
        before, at = _tally(stats), time.perf_counter()
        county.processes[0].kill()  # SIGKILL: no heads signed, no transaction ended, connections cut
        county.processes[0].wait()
        time.sleep(RESTART_SEC)
        again = time.perf_counter()
        county.processes[0] = self.start(county, 0)
        victim = _process_name(self.fleet.counties.index(county), 0)
        recovered = _answering({victim: _url(county.ports[0])}, again)
        name = f"{victim} SIGKILLed (its scheduler)"
        return Fault(name, at - began, again - at, recovered, *_since(stats, before))

    def _processes(self) -> dict[str, str]:
        """Every hub process by name, at its own port (not behind the county's proxy)."""
        named = {"city": _url(self.fleet.city.port)}
        for c, county in enumerate(self.fleet.counties):
            named |= {_process_name(c, k): _url(port) for k, port in enumerate(county.ports)}
        return named


def _process_name(county: int, k: int) -> str:
    return f"county {county + 1}/{k}"


def describe_faults(shape: Shape) -> str:
    return (
        f"faults: the hubs on a PostgreSQL server of the run's own, over its unix socket, each county served by two "
        f"processes behind one address; once a third of the storm is acknowledged PostgreSQL stopped (-m "
        f"{' then -m '.join(RESTART_MODES)}, each down {DOWN_S:.0f} s) and, {BETWEEN_S:.0f} s after every hub "
        f"answers again, county process 1/0 SIGKILLed and started again {RESTART_SEC:.0f} s later; the "
        f"stations sync again about every {TRAFFIC_PERIOD_S:.0f} s with {shape.steady_events} new applications "
        f"until {SETTLE_S:.0f} s after it is back"
    )


def logged(base: Path) -> Counter:
    """What the hubs' logs say of their answers: 503s for the database being away and 500s."""
    counts = Counter()
    for log in base.glob("*.log"):
        text = log.read_text(errors="replace")
        counts["busy (database away)"] += text.count(UNREACHABLE_LOGGED)
        counts["500"] += text.count(UNEXPECTED_LOGGED)
    return counts


def _url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def _answering(processes: dict[str, str], since: float) -> dict[str, float]:
    """For each process, how long after `since` it first answered a request that reads the database."""
    answered: dict[str, float] = {}
    deadline = time.monotonic() + WAIT_LIMIT_S
    while len(answered) < len(processes):
        for name, url in processes.items():
            if name not in answered and _answers(url):
                answered[name] = time.perf_counter() - since
        if time.monotonic() > deadline:
            silent = sorted(processes.keys() - answered)
            raise RuntimeError(f"hub processes not answering {WAIT_LIMIT_S} s after the fault: {silent}")
        time.sleep(0.1)
    return answered


def _answers(url: str) -> bool:
    try:
        return requests.get(url + PROBE, timeout=5).ok
    except requests.RequestException:
        return False


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_LIMIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"waited {WAIT_LIMIT_S} s for {what}")
        time.sleep(0.05)


def _tally(stats: Stats) -> tuple[int, Counter]:
    with stats.lock:
        return stats.busy, Counter(stats.failures)


def _since(stats: Stats, before: tuple[int, Counter]) -> tuple[int, Counter]:
    busy, failures = _tally(stats)
    return busy - before[0], failures - before[1]
