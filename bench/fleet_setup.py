"""The fleet simulator's setup: the hubs provisioned in this process on PostgreSQL, then served.

Stations are registered and certified by their county's CA as a hub does it (the
certificates published as trust events); each then holds the trust streams, and its
earlier applications sit decided at its county: the state a 24-hour outage leaves.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock
from urllib.parse import urlparse

import psycopg2
import requests

from harness.servers import ROOT, free_port
from harness.tree import open_node
from node.cases.intake import transition
from node.catalogue.importing import SAMPLE_PATH, load_json
from node.catalogue.model import ServiceItem
from node.config import NodeConfig
from node.fleet import admin as fleet
from node.fleet import joining
from node.runtime import Node, initialise
from provisioning import registration
from provisioning.ca import require_authority
from provisioning.granting import enrol_installation
from provisioning.operators import hash_password
from storage.database import db
from storage.models import Application, EventRecord, Registration, StreamHead
from sync import delta

from .fleet_station import Hub, SimStation

POSTGRES = os.environ.get("ONETRIP_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
ALGORITHM = "ecdsa-p256-sha256"
FIRST_ADMIN_PASSWORD = "simulated-first-admin"  # the simulator never logs in with it
COUNTIES = [f"5113{21 + k:02d}" for k in range(10)]
VILLAGES_PER_TOWNSHIP = 13  # 5,561 villages in 416 townships
RELAY_INTERVAL_S = 2  # a county pushes up this soon after its last round (the scheduler looks every 5 s)


@dataclass(frozen=True)
class Shape:
    counties: int
    stations: int  # per county
    storm_applications: int = 20  # filed at each station during the outage; each had 2 decisions waiting
    steady_period_s: float = 300  # each station syncs this often in the steady state
    steady_window_s: float = 150  # real seconds of it run, the stations' rounds spread uniformly over the period
    steady_events: int = 2  # new applications per steady round


@dataclass
class County:
    config: NodeConfig
    url: str
    stations: list[SimStation]
    ports: list[int] = field(default_factory=list)  # its processes': several sit behind a proxy on the county's own
    processes: list[subprocess.Popen] = field(default_factory=list)  # the first runs the scheduler (relays up)


@dataclass
class Fleet:
    base: Path
    city: NodeConfig
    counties: list[County]
    databases: list[str]  # the city's, then each county's
    city_origins: frozenset[str]  # what the counties received from the city, not from below
    city_process: subprocess.Popen | None = None

    @property
    def stations(self) -> list[SimStation]:
        return [s for c in self.counties for s in c.stations]


# -- provisioning, in this process --------------------------------------------------------


@contextmanager
def databases(count: int, server: str = POSTGRES, templates: list[str] | None = None):
    """`count` throwaway PostgreSQL databases on the server whose admin URL is given, copies of `templates` if
    given (a fleet template's, `bench/fleet_template.py`), dropped afterwards (over a connection of their own:
    the fault run restarts the server meanwhile)."""
    names = [f"onetrip_fleet_{uuid.uuid4().hex[:10]}" for _ in range(count)]
    copies = [f' TEMPLATE "{template}"' for template in templates] if templates else [""] * count
    administer(server, [f'CREATE DATABASE "{name}"{copy}' for name, copy in zip(names, copies, strict=True)])
    try:
        yield [urlparse(server)._replace(path=f"/{name}").geturl() for name in names]  # its host, port and query kept
    finally:
        if db.obj is not None:  # a fleet cloned from a template never bound one in this process
            db.close()
        administer(server, [f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in names])


def administer(server: str, statements: list[str]) -> None:
    admin = psycopg2.connect(server, connect_timeout=5)
    admin.autocommit = True  # CREATE and DROP DATABASE refuse to run in a transaction
    try:
        for statement in statements:
            admin.cursor().execute(statement)
    finally:
        admin.close()


@contextmanager
def _one_first_admin_password():
    """Every simulated station's first admin gets one password, hashed once: the stations never log in, and a
    scrypt per registration was more than half of provisioning a city. Keys, certificates and enrolment codes
    stay each station's own."""
    hashed = hash_password(FIRST_ADMIN_PASSWORD)
    with (
        mock.patch.object(registration, "new_password", lambda: FIRST_ADMIN_PASSWORD),
        mock.patch.object(registration, "hash_password", lambda password: hashed),
    ):
        yield


def provision(base: Path, shape: Shape, urls: list[str]) -> Fleet:
    """The city, its counties enrolled by bundle, each county's stations registered and certified,
    and the state before the storm: each station's earlier applications at its county, decided there."""
    with _one_first_admin_password():
        return _provision(base, shape, urls)


def _provision(base: Path, shape: Shape, urls: list[str]) -> Fleet:
    city = NodeConfig(base / "city", database=urls[0], port=free_port())
    initialise(city, level="city", name="南充市政务服务中心", region="511300", algorithm=ALGORITHM)
    city_url = f"http://127.0.0.1:{city.port}"
    counties = []
    for k, region in enumerate(COUNTIES[: shape.counties]):
        config = NodeConfig(base / f"county{k}", database=urls[k + 1], port=free_port())
        name = f"南充市第{k + 1}县政务服务中心"
        done = fleet.register(open_node(city), name=name, level="county", region=region, hub_url=city_url)
        bundle = fleet.bundle_for(open_node(city), done.code, city_url)
        db.close()
        initialise(config, level="county", name=name, region=region, algorithm=ALGORITHM)
        request = joining.enrol_from_bundle(open_node(config), bundle, done.code)
        grant = fleet.grant(open_node(city), request)  # one database bound at a time: grant, then install
        joining.install_grant(open_node(config), grant)
        counties.append(County(config, f"http://127.0.0.1:{config.port}", []))
    city_key = open_node(city).keys.signing.verifying_key
    city_installation = open_node(city).identity.installation
    items = proxy_items()
    for k, county in enumerate(counties):
        county.stations = _enrol_stations(county, k, shape, items, (city_installation, city_key))
    db.close()
    return Fleet(base, city, counties, urls, frozenset({city_installation}))


def proxy_items() -> list[ServiceItem]:
    """The sample catalogue's items a village station may file for residents, as the stations choose from."""
    return [i for i in load_json(SAMPLE_PATH.read_bytes()).current() if i.proxy_allowed]


def _enrol_stations(county: County, k: int, shape: Shape, items, city) -> list[SimStation]:
    node = open_node(county.config)
    authority = require_authority(county.config.data_dir)
    stations = []
    for j in range(shape.stations):
        township, village = divmod(j, VILLAGES_PER_TOWNSHIP)
        region = f"{node.identity.region}{township + 1:03d}{village + 1:03d}"
        station = SimStation(f"第{township + 1}镇第{village + 1}村便民服务代办点", region, items, seed=k * 10_000 + j)
        done = fleet.register(node, name=station.name, level="village", region=region, hub_url=county.url)
        registration = Registration.get(Registration.station == done.station)
        public = (station.signing.verifying_key.public_key, station.agreement.public_key())
        enrol_installation(node.events, authority, registration, station.installation, *public, None, node.now())
        stations.append((done.station, station))
    node.events.sign_heads()
    hub = Hub(
        county.url,
        node.identity.station,
        node.identity.installation,
        node.keys.agreement.public_key(),
        {node.identity.installation: node.keys.signing.verifying_key, city[0]: city[1]},
        node.keys.lookup,
        {(h.origin, h.stream): (h.seq, h.chain) for h in StreamHead.select().where(StreamHead.stream == "all")},
    )
    synced_to = EventRecord.select(EventRecord.arrival).order_by(EventRecord.arrival.desc()).scalar()
    for code, station in stations:
        station.enrolled(code, hub, synced_to)  # in sync before the outage: it holds the trust streams
        station.file(shape.storm_applications)  # yesterday's applications, which reached the county…
        delta.apply(node.events, station.unsent())
        station.up = station.seq
        _decide(node, code)  # …and were accepted and decided there during the outage
    node.events.sign_heads()
    return [station for _, station in stations]


def _decide(node: Node, station: str) -> None:
    numbers = Application.select(Application.number).where(Application.station == station).tuples()
    with node.events.transaction():
        for (number,) in numbers:
            transition(node.events, number, "application.accepted", {"by": "county.clerk"})
            transition(node.events, number, "application.decided", {"by": "county.clerk", "approved": True})


# -- the hubs, as servers ----------------------------------------------------------------


def serve(config: NodeConfig, log: Path, **settings: str) -> subprocess.Popen:
    """`onetrip serve` with its output to a file (a pipe nobody reads would stall it under load)."""
    env = {**os.environ, **{f"ONETRIP_{k.upper()}": v for k, v in settings.items()}}
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py"), "serve", "--data", str(config.data_dir)],
            stdout=out,
            stderr=out,
            env=env,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{config.port}/healthz", timeout=1).ok:
                return process
        except requests.ConnectionError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{config.data_dir} did not come up: see {log}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=60)


def events_by_origin(url: str) -> dict[str, int]:
    """Events held per origin, counted by the database; `(origin, stream, seq)` is unique, so a count equal
    to the seqs sent means nothing lost and nothing twice."""
    with psycopg2.connect(url) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT origin, count(*) FROM event GROUP BY origin")
        return dict(cursor.fetchall())
