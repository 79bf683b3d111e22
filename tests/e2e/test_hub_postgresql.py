"""A county hub on PostgreSQL served by real `onetrip serve` processes: the connections a process holds
stay within its pool's bound under load, and several processes on one database apply every event once.

The hub is provisioned as the fleet simulator does it (`bench/fleet_setup.py`), with simulated stations
that speak the real protocol.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import partial

import psycopg2
import pytest
import requests

from bench.fleet_setup import POSTGRES, Shape, databases, events_by_origin, provision, serve, stop
from bench.fleet_station import SimStation, Stats
from harness.servers import free_port
from node.link.upstream import PUSH_PATH
from node.runtime import database_connections
from sync import canonical
from sync.batch import encode_batch
from sync.request import PUSH_CONTEXT
from sync.transport import HttpTransport

HUB = "onetrip-hub-under-test"  # the served processes' application_name in pg_stat_activity
LOAD_S = 6


@pytest.fixture(scope="module")
def fleet(postgres_url, tmp_path_factory):
    """A city and one county on PostgreSQL, the county with five simulated village stations."""
    with databases(2) as urls:
        yield provision(tmp_path_factory.mktemp("fleet"), Shape(1, 5, storm_applications=2), urls)


def test_a_hub_process_under_concurrent_requests_and_its_jobs_holds_no_more_connections_than_its_pool(
    fleet, monkeypatch, tmp_path
):
    county = fleet.counties[0]
    config = replace(county.config, threads=2)
    monkeypatch.setenv("PGAPPNAME", HUB)  # only the served process: the sampler names itself
    peak, done = [0], threading.Event()
    server = serve(config, tmp_path / "county.log", threads=str(config.threads))
    sampler = threading.Thread(target=_sample_connections, args=(config.database, peak, done))
    sampler.start()
    try:
        with ThreadPoolExecutor(max_workers=24) as pool:
            rounds = [pool.submit(_sync_for, station, LOAD_S) for station in county.stations]
            pages = [pool.submit(_get_for, f"{county.url}/api/v1/status", LOAD_S) for _ in range(16)]
            assert all(f.result() for f in rounds + pages)
    finally:
        done.set()
        sampler.join()
        stop(server)
    assert 0 < peak[0] <= database_connections(config), f"{peak[0]} connections at once"


def _sample_connections(database: str, peak: list[int], done: threading.Event) -> None:
    name = database.rsplit("/", 1)[1]
    admin = psycopg2.connect(POSTGRES, application_name="onetrip-test-sampler")
    admin.autocommit = True  # pg_stat_activity is read once per transaction: each count in its own
    try:
        with admin.cursor() as cursor:
            while not done.is_set():
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = %s", (name, HUB)
                )
                peak[0] = max(peak[0], cursor.fetchone()[0])
                time.sleep(0.02)
    finally:
        admin.close()


def _sync_for(station: SimStation, seconds: float) -> bool:
    """Rounds (a push of new applications, pulls) one after another, as a busy station would."""
    stats, deadline = Stats(), time.monotonic() + seconds
    while time.monotonic() < deadline:
        station.file(2)
        if not station.sync_round(stats) or stats.errors:
            return False
    return True


def _get_for(url: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    with requests.Session() as session:
        while time.monotonic() < deadline:
            if not session.get(url, timeout=30).ok:
                return False
    return True


def test_the_same_batch_pushed_at_once_to_two_processes_of_a_hub_is_applied_once(fleet, tmp_path):
    county = fleet.counties[0]
    other = free_port()
    first = serve(county.config, tmp_path / "first.log")
    second = serve(replace(county.config, port=other), tmp_path / "second.log", port=str(other), scheduler="off")
    urls = (county.url, f"http://127.0.0.1:{other}")
    try:
        for station in county.stations:
            station.file(3)
            batch = encode_batch(station.unsent())
            sent = station.seq - station.up
            receipts = _at_once([partial(_push, station, url, batch) for url in urls])
            assert sorted((r["applied"], r["replayed"]) for r in receipts) == [(0, sent), (sent, 0)]
            station.up = station.seq
        for station in county.stations:  # then every station at once, each to either process
            station.file(2)
        pushes = [partial(_push, s, urls[k % 2], encode_batch(s.unsent())) for k, s in enumerate(county.stations)]
        assert [r["applied"] for r in _at_once(pushes)] == [2] * len(county.stations)
    finally:
        stop(second)
        stop(first)
    held = events_by_origin(county.config.database)
    assert {s.installation: held.get(s.installation) for s in county.stations} == {
        s.installation: s.seq for s in county.stations
    }


def _push(station: SimStation, url: str, body: bytes) -> dict:
    transport = HttpTransport(url)
    try:
        return canonical.decode(station._channel(transport).call(PUSH_PATH, PUSH_CONTEXT, body))
    finally:
        transport.session.close()


def _at_once(calls: list) -> list:
    """Every call started together (a barrier), so the processes race for the same writes."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def test_a_hub_whose_database_goes_away_answers_busy_and_recovers_by_itself(fleet, tmp_path):
    """PostgreSQL away mid-work (its host cut off by a proxy between hub and server, as a restart or a failover
    looks from the hub): every request is answered 503 busy with Retry-After, nobody sees a 500; the station
    waits and retries; once the database is back the hub serves again with no restart, and every event the
    station sent is held once."""
    from bench.proxy import CountingProxy

    county = fleet.counties[0]
    proxy = CountingProxy(5432)
    url = county.config.database.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    assert url != county.config.database
    station, stats = county.stations[0], Stats()
    server = serve(county.config, tmp_path / "county.log", database=url)  # ONETRIP_DATABASE
    try:
        station.file(2)
        assert station.sync_round(stats)
        proxy.cut_after(proxy.up)  # at the next byte to the database every connection drops, new ones fail
        station.file(3)
        away = requests.get(f"{county.url}/api/v1/status", timeout=30)
        assert away.status_code == 503 and away.json()["error"] == "busy" and int(away.headers["Retry-After"]) > 0
        page = requests.get(f"{county.url}/login", timeout=30)
        assert page.status_code in (200, 503) and "Traceback" not in page.text
        synced = ThreadPoolExecutor(1).submit(station.sync_round, stats)
        time.sleep(4)
        assert stats.busy > 0 and not synced.done()  # told busy, waiting its Retry-After, not failing
        proxy.restore()
        assert synced.result(timeout=60) and not stats.errors
        assert requests.get(f"{county.url}/api/v1/status", timeout=30).ok
    finally:
        stop(server)
        proxy.close()
    assert events_by_origin(county.config.database)[station.installation] == station.seq
