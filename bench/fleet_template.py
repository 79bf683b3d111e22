"""Issue 18's fleet template: a shape's provisioned fleet kept, so that later runs clone it instead of making it.

Provisioning the metro fleet (5,560 stations registered, certified, their earlier applications filed and
decided) took 752 s of every run. The first run of a shape provisions as before and keeps what it made: each
PostgreSQL database as a template database (`CREATE DATABASE … TEMPLATE` copies it), the hubs' data dirs (keys
still 0600) and the simulated stations' state (private keys, stream, cursors, random state). A later run of the
shape clones the databases, copies the dirs, gives each hub a fresh port and restores the stations: every
station's keys and certificates are still its own and distinct, made once rather than per run.

Where a hub's address lives: its `onetrip.toml` (port and database), a county's identity.json (the city's URL,
where it relays and renews) and the stations' `Hub`; no database row holds one (checked on a pg_dump of a
provisioned fleet), so the databases are cloned as they are.

A template is cloned only while it is right: made by the same code (`code_hash`), on the same server, with
its databases all there, and younger than `MAX_AGE`. Otherwise the run provisions fresh and replaces it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import pickle
import shutil
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import psycopg2

from harness.servers import ROOT, free_port
from node.config import CONFIG_FILE, NodeConfig, write_config
from provisioning.identity import load_identity, save_identity
from storage.database import db

from .fleet_setup import POSTGRES, County, Fleet, Shape, administer, databases, provision, proxy_items
from .fleet_station import Hub, SimStation

TEMPLATE_DIR = "/var/tmp/onetrip-fleet-templates"  # ONETRIP_FLEET_TEMPLATE_DIR overrides it
# What decides the provisioned state: the schema and its migrations, the event log, provisioning and the
# nodes' enrolment and case rules, the sample catalogue, and the simulator's own setup and template format.
CODE = (
    "bench/fleet_setup.py",
    "bench/fleet_station.py",
    "bench/fleet_template.py",
    "bench/records.py",
    "harness/tree.py",
    "node",
    "provisioning",
    "storage",
    "sync",
)
# Hubs re-sign a quiet stream's head once past half its 7-day lifetime (`sync/log/heads.py`): from a template
# older than that they would renew every feed in the storm, work a fresh fleet does not do. Certificates are
# valid for two years, and nothing else provisioned waits on a deadline (the decisions are all made).
MAX_AGE = dt.timedelta(days=3)
RECORD = "template.json"  # written last: a template without it was not finished
STATIONS = "stations.pickle"


def code_hash() -> str:
    """The files in `CODE` as they are in the working tree, not as committed: an uncommitted change to a
    migration must not reuse databases made before it."""
    digest = hashlib.sha256()
    for top in CODE:
        path = ROOT / top
        for file in sorted([path] if path.is_file() else path.rglob("*")):
            if file.is_file() and "__pycache__" not in file.parts:
                content = hashlib.sha256(file.read_bytes()).hexdigest()
                digest.update(f"{file.relative_to(ROOT)} {content}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class Made:
    """How a run's fleet came to be, for its report line."""

    seconds: float
    cloned_from: dict | None = None  # the template's record when cloned
    saved_s: float | None = None  # provisioned fresh, then kept as the template in this long
    no_template: str = ""  # why a fresh fleet was not kept

    def describe(self) -> str:
        if self.cloned_from:
            made = self.cloned_from
            return (
                f"cloned from a template in {self.seconds:.0f} s; provisioned fresh in {made['fresh_s']:.0f} s "
                f"on {made['made_at'][:10]}"
            )
        if self.saved_s is not None:
            return f"provisioned fresh in {self.seconds:.0f} s, kept as a template in {self.saved_s:.0f} s"
        return f"provisioned fresh in {self.seconds:.0f} s; no template: {self.no_template}"


class Template:
    """A shape's template: a folder under the template dir, and its databases on the shared server, named
    `onetrip_tmpl_<place>_<shape>_<code>_<k>` (`place`: the template dir's, so a test's stay apart from the
    bench's)."""

    def __init__(self, shape: Shape, server: str = POSTGRES):
        root = Path(os.environ.get("ONETRIP_FLEET_TEMPLATE_DIR", TEMPLATE_DIR))
        name = f"{shape.counties}x{shape.stations}x{shape.storm_applications}"  # all that provisioning uses
        place = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:6]
        self.shape, self.server, self.folder = shape, server, root / name
        self.code = code_hash()
        self.prefix = f"onetrip_tmpl_{place}_{name}_"
        self.databases = self._named(self.code)

    def _named(self, code: str) -> list[str]:
        return [f"{self.prefix}{code[:12]}_{k}" for k in range(self.shape.counties + 1)]

    def usable(self) -> dict | None:
        """The template's record, if it may be cloned. `ONETRIP_FLEET_TEMPLATE=any-code` clones one made by other
        code: for measuring a change that does not touch what provisioning makes against the commit before it,
        on the very same fleet, without provisioning twice."""
        try:
            made = json.loads((self.folder / RECORD).read_text())
        except FileNotFoundError:
            return None
        age = dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(made["made_at"])
        any_code = os.environ.get("ONETRIP_FLEET_TEMPLATE") == "any-code"
        if (made["code"] != self.code and not any_code) or made["server"] != self.server or age > MAX_AGE:
            return None
        named = self._named(made["code"])
        if not set(named) <= set(self.held()):
            return None
        self.databases = named  # cloned from these
        return made

    def held(self) -> list[str]:
        """This shape's template databases on the server, of whatever code."""
        with psycopg2.connect(self.server, connect_timeout=5) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT datname FROM pg_database WHERE starts_with(datname, %s)", (self.prefix,))
            return [name for (name,) in cursor.fetchall()]

    def drop(self) -> None:
        administer(self.server, [f'DROP DATABASE IF EXISTS "{name}"' for name in self.held()])
        shutil.rmtree(self.folder, ignore_errors=True)

    def save(self, fleet: Fleet, fresh_s: float) -> None:
        """Replace whatever the shape's template was (another code's, too old, half made) by `fleet`, which
        must not have been served yet: its databases are copied as provisioning left them."""
        self.drop()
        self.folder.mkdir(mode=0o700, parents=True)  # private keys inside
        db.obj.close_all()  # the pool's idle connection: a database being copied must have no other session
        runs = [urlparse(url).path.lstrip("/") for url in fleet.databases]
        pairs = zip(self.databases, runs, strict=True)
        administer(self.server, [f'CREATE DATABASE "{name}" TEMPLATE "{run}"' for name, run in pairs])
        configs = [fleet.city, *(county.config for county in fleet.counties)]
        for config in configs:
            shutil.copytree(config.data_dir, self.folder / config.data_dir.name)
        stations = {
            "hubs": [county.stations[0].hub.state() for county in fleet.counties],  # one a county, shared
            "stations": [[station.state() for station in county.stations] for county in fleet.counties],
        }
        with os.fdopen(os.open(self.folder / STATIONS, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as out:
            pickle.dump(stations, out, protocol=pickle.HIGHEST_PROTOCOL)
        record = {
            "code": self.code,
            "server": self.server,
            "made_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "fresh_s": round(fresh_s, 1),
            "urls": {config.data_dir.name: _url(config.port) for config in configs},
        }
        (self.folder / RECORD).write_text(json.dumps(record, indent=2))

    def restore(self, base: Path, urls: list[str], made: dict) -> Fleet:
        """The fleet in `base` on `urls` (the cloned databases), each hub on a fresh port."""
        names = ["city", *(f"county{k}" for k in range(self.shape.counties))]
        configs = [NodeConfig(base / n, database=url, port=free_port()) for n, url in zip(names, urls, strict=True)]
        moved = {made["urls"][config.data_dir.name]: _url(config.port) for config in configs}
        for config in configs:
            shutil.copytree(self.folder / config.data_dir.name, config.data_dir)
            _rehomed(config, moved)
        with (self.folder / STATIONS).open("rb") as saved:
            stations = pickle.load(saved)
        items, counties = proxy_items(), []
        for config, hub, states in zip(configs[1:], stations["hubs"], stations["stations"], strict=True):
            hub = Hub.restored(hub, _url(config.port))
            counties.append(County(config, _url(config.port), [SimStation.restored(s, items, hub) for s in states]))
        city, _ = load_identity(configs[0].data_dir)
        return Fleet(base, configs[0], counties, urls, frozenset({city.installation}))


def _url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def _rehomed(config: NodeConfig, moved: dict[str, str]) -> None:
    """A copied hub's settings given its port and database, and its identity the new URLs of the hubs it names
    (a county's city: where it relays and renews)."""
    settings = tomllib.loads((config.data_dir / CONFIG_FILE).read_text("utf-8"))
    write_config(config.data_dir, {**settings, "port": config.port, "database": config.database})
    identity, _ = load_identity(config.data_dir)
    urls = {name: moved[url] for name, url in dataclasses.asdict(identity).items() if url in moved}
    save_identity(config.data_dir, dataclasses.replace(identity, **urls))


@contextmanager
def fleet_for(base: Path, shape: Shape, server: str | None = None) -> Iterator[tuple[Fleet, Made]]:
    """The shape's fleet in `base`, on databases dropped afterwards: cloned from its template when it may be,
    else provisioned fresh and kept as the template. `server`: the fault run's own, which starts empty every
    run, so it never holds a template; `ONETRIP_FLEET_TEMPLATE=0` provisions fresh and keeps nothing."""
    if server:
        template, why = None, "the fault run's own PostgreSQL server starts empty"
    elif os.environ.get("ONETRIP_FLEET_TEMPLATE", "1") == "0":
        template, why = None, "ONETRIP_FLEET_TEMPLATE=0"
    else:
        template, why = Template(shape), ""
    made = template.usable() if template else None
    started = time.perf_counter()
    with databases(shape.counties + 1, server or POSTGRES, template.databases if made else None) as urls:
        if made:
            yield template.restore(base, urls, made), Made(time.perf_counter() - started, cloned_from=made)
            return
        provisioned = provision(base, shape, urls)
        fresh_s = time.perf_counter() - started
        if template:
            template.save(provisioned, fresh_s)
        saved_s = time.perf_counter() - started - fresh_s if template else None
        yield provisioned, Made(fresh_s, saved_s=saved_s, no_template=why)
