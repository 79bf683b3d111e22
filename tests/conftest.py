"""Fixtures named for what they return: databases (SQLite and PostgreSQL), logs, nodes, apps."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import psycopg2
import pytest
from hypothesis import HealthCheck, settings

from harness.clock import FrozenClock
from harness.postgres import PostgresMissing, server_binaries
from harness.register import RegisterProjection, create_register_table
from node.config import NodeConfig
from node.runtime import Node, initialise
from storage.database import bind, db, open_database, sqlite_url
from storage.migrations import migrate
from sync.hlc import HybridClock
from sync.keys import SigningKey
from sync.log import Author, EventLog
from sync.projection import Registry
from sync.trust import PinnedTrust

settings.register_profile(
    "default", deadline=None, max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
settings.register_profile(
    "soak", deadline=None, max_examples=1500, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

POSTGRES_ADMIN_URL = os.environ.get("ONETRIP_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def pytest_collection_modifyitems(items):
    """Mark tests by what they need, for `-m`: `e2e` (tests/e2e: nodes served on loopback, chromium) and
    `postgres` (the PostgreSQL server, asked for directly or as one value of a database parameter)."""
    e2e_dir = Path(__file__).parent / "e2e"
    for item in items:
        if e2e_dir in item.path.parents:
            item.add_marker(pytest.mark.e2e)
        params = getattr(item, "callspec", None)
        if "postgres_url" in item.fixturenames or (params and "postgresql" in params.params.values()):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def postgres_url():
    """A throwaway PostgreSQL database for this run, dropped at its end. In CI, no server is a failure."""
    try:
        admin = psycopg2.connect(POSTGRES_ADMIN_URL, connect_timeout=5)
    except psycopg2.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI and is not reachable at {POSTGRES_ADMIN_URL}: {exc}")
        pytest.skip(f"no PostgreSQL at {POSTGRES_ADMIN_URL} (outside CI only)")
    admin.autocommit = True
    name = f"onetrip_test_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    if db.obj is not None:  # a run whose tests only needed the URL never bound it
        db.close()
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture(scope="session")
def postgres_binaries() -> Path:
    """The PostgreSQL server's programs, for a test that runs a server of its own (to restart it: the shared one
    serves every other test). In CI, none installed is a failure."""
    try:
        return server_binaries()
    except PostgresMissing as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL's server programs are required in CI: {exc}")
        pytest.skip(f"{exc} (outside CI only)")


def _bind_clean(url: str) -> None:
    if db.obj is not None and not db.is_closed():
        db.close()
    bind(open_database(url))
    if url.startswith("postgresql"):
        db.execute_sql("DROP SCHEMA public CASCADE")
        db.execute_sql("CREATE SCHEMA public")


@pytest.fixture
def sqlite_database(tmp_path: Path) -> str:
    """An empty SQLite file in a temporary data dir, bound as the process's database."""
    url = sqlite_url(tmp_path)
    _bind_clean(url)
    yield url
    db.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_database(request, tmp_path: Path) -> str:
    """The same test on a SQLite file and on a PostgreSQL database, each empty and bound."""
    url = sqlite_url(tmp_path) if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    _bind_clean(url)
    yield url
    db.close()


@pytest.fixture
def postgres_database(postgres_url: str) -> str:
    """The run's PostgreSQL database, emptied and bound."""
    _bind_clean(postgres_url)
    yield postgres_url
    db.close()


@pytest.fixture
def migrated(any_database: str) -> str:
    migrate()
    create_register_table()
    return any_database


@pytest.fixture
def migrated_sqlite(sqlite_database: str) -> str:
    migrate()
    create_register_table()
    return sqlite_database


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(1_795_000_000_000)


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def make_log(clock):
    """Build an event log for an origin; every origin named in `trusted` is pinned."""

    def build(origin: str, key: SigningKey, trusted: dict | None = None, **kwargs) -> EventLog:
        keys = {origin: key.verifying_key, **(trusted or {})}
        registry = kwargs.pop("registry", None) or Registry((RegisterProjection(),))
        return EventLog(Author(origin, key), PinnedTrust(keys), registry, HybridClock(clock), **kwargs)

    return build


@pytest.fixture
def event_log(migrated, make_log, signing_key) -> EventLog:
    return make_log("i-local", signing_key)


@pytest.fixture
def node(tmp_path: Path) -> Node:
    """A village station initialised in a fresh data dir on SQLite."""
    config = NodeConfig(tmp_path / "village")
    initialise(
        config, level="village", name="青山村便民服务代办点", region="511302001001", algorithm="ecdsa-p256-sha256"
    )
    node = Node.from_config(config)
    yield node
    db.close()


@pytest.fixture
def app(node):
    from web import create_app

    app = create_app(node=node)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def county_template(tmp_path_factory):
    """A city and a county enrolled to it, made once per run; tests get copies."""
    from harness.tree import provision_county

    tree = provision_county(tmp_path_factory.mktemp("tree"))
    db.close()
    return tree


@pytest.fixture
def county_node(county_template, tmp_path) -> Node:
    """A fresh copy of the provisioned county hub, open, with an admin (wang), an agent (li) and a clerk (zhou)."""
    import shutil

    from harness.tree import open_node
    from provisioning.operators import create_operator

    shutil.copytree(county_template.county.data_dir, tmp_path / "county")
    node = open_node(NodeConfig(tmp_path / "county"))
    station = node.identity.station
    for username, name, role, password in (
        ("wang", "王主任", "admin", "county-admin-1"),
        ("li", "李代办", "agent", "agent-pass-1"),
        ("zhou", "周科员", "clerk", "clerk-pass-1"),
    ):
        create_operator(node.events, station, username=username, name=name, role=role, password=password)
    yield node
    db.close()


@pytest.fixture(scope="session")
def seal_template(county_template, tmp_path_factory):
    """The county tree with a village enrolled under it holding a seal (PIN `harness.seals.PIN`)."""
    import shutil

    from harness.seals import provision_seal

    base = tmp_path_factory.mktemp("seal")
    for name in ("city", "county"):
        shutil.copytree(getattr(county_template, name).data_dir, base / name)
    tree = provision_seal(NodeConfig(base / "city"), NodeConfig(base / "county"), base)
    db.close()
    return tree


@pytest.fixture
def seal_tree(seal_template, tmp_path):
    """A fresh copy of the seal tree; open a node with `seal_tree.open("village")`."""
    tree = seal_template.copy(tmp_path)
    yield tree
    db.close()
