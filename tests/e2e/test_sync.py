"""Sync with real servers on loopback: village → township → county → city and back down.

The demo tree (provisioned once per module, copied per test) is served by four real
`onetrip serve` processes; the test drives each node's rounds itself with `onetrip sync`
(the servers' own schedulers wait an hour between rounds).
"""

from __future__ import annotations

import os
import shutil
import socket

import pytest
import requests

from app import main
from node import demo
from node.applications import file_for_resident, transition
from node.config import NodeConfig
from node.data import sample_catalogue
from storage.database import db
from storage.models import Application, EventRecord, SyncLink
from tests.support.servers import start, stop
from tests.support.tree import open_node

RESIDENT = demo.DEMO_RESIDENTS[0]
LEVELS = ("city", "county", "township", "village")


def _free_run(count: int) -> int:
    """A base port with `count` free ports after it."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            base = sock.getsockname()[1]
        if base + count < 65535 and all(_free(base + i) for i in range(count)):
            return base
    raise RuntimeError("no run of free ports")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture(scope="module")
def demo_tree(tmp_path_factory):
    base = tmp_path_factory.mktemp("tree") / "demo"
    port = _free_run(4)
    demo.prepare(base, port)
    return base, port


class Cluster:
    def __init__(self, base, port):
        self.configs = {level: NodeConfig.load(base / level) for level in LEVELS}
        self.port = port
        self.servers = {}

    def serve(self, level: str) -> None:
        os.environ["ONETRIP_SYNC_INTERVAL_S"] = "3600"
        try:
            self.servers[level] = start(["serve", "--data", str(self.configs[level].data_dir)], self.configs[level].port)
        finally:
            del os.environ["ONETRIP_SYNC_INTERVAL_S"]

    def halt(self, level: str) -> None:
        stop(self.servers.pop(level))

    def sync(self, level: str) -> int:
        code = main(["sync", "--data", str(self.configs[level].data_dir)])
        db.close()
        return code

    def open(self, level: str):
        return open_node(self.configs[level])


@pytest.fixture
def cluster(demo_tree, tmp_path):
    base, port = demo_tree
    shutil.copytree(base, tmp_path / "demo")
    cluster = Cluster(tmp_path / "demo", port)
    for level in ("city", "county", "township"):
        cluster.serve(level)
    yield cluster
    db.close()
    for level in list(cluster.servers):
        cluster.halt(level)


def file(node) -> str:
    item = next(i for i in sample_catalogue().current() if i.proxy_allowed and i.promised_limit.days > 0)
    (number,) = file_for_resident(
        node,
        sample_catalogue(),
        item_code=item.code,
        applicant=RESIDENT,
        consent=True,
        operator="cun.agent",
        request_token=os.urandom(16).hex(),
        now=node.now(),
    )
    return number


def state_at(cluster, level: str, number: str) -> str | None:
    cluster.open(level)
    row = Application.get_or_none(Application.number == number)
    db.close()
    return row.state if row else None


def test_an_application_filed_at_the_village_reaches_every_level_and_its_acceptance_comes_back(cluster, capsys):
    number = file(cluster.open("village"))
    db.close()
    for level in ("village", "township", "county"):
        assert cluster.sync(level) == 0, capsys.readouterr().err
    assert [state_at(cluster, level, number) for level in LEVELS] == ["submitted"] * 4

    township = cluster.open("township")
    transition(township.events, number, "application.accepted", {"by": "town.clerk"})
    db.close()
    assert cluster.sync("township") == 0, capsys.readouterr().err
    assert cluster.sync("village") == 0, capsys.readouterr().err
    assert state_at(cluster, "village", number) == "accepted"
    assert cluster.sync("county") == 0, capsys.readouterr().err
    assert state_at(cluster, "city", number) == "accepted"

    # Nothing arrived twice, and an idle round changes nothing.
    for level in LEVELS:
        cluster.open(level)
        assert EventRecord.select().where(EventRecord.entity == f"application:{number}").count() == 2
        db.close()
    status = requests.get(f"http://127.0.0.1:{cluster.port + 2}/api/v1/status", timeout=5).json()
    assert status["sync"]["parent"] and status["sync"]["last_error"] is None


def test_a_cut_link_is_reported_in_plain_words_and_resumes(cluster, capsys):
    number = file(cluster.open("village"))
    db.close()
    cluster.halt("township")
    assert cluster.sync("village") == 2
    assert "连不上上级" in capsys.readouterr().err
    cluster.serve("township")
    assert cluster.sync("village") == 0
    assert state_at(cluster, "township", number) == "submitted"
    cluster.open("village")
    link = SyncLink.get()
    assert link.up_cursor == EventRecord.select().order_by(EventRecord.arrival.desc()).first().arrival
    db.close()
