"""The demo tree served by real `onetrip serve` processes on loopback, for the multi-node tests.

Each test drives the nodes' rounds itself with `onetrip sync` (the servers' own schedulers
wait an hour between rounds); the village is never served, as on a real village PC.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from app import main
from harness.servers import start, stop
from harness.tree import open_node
from node.cases.intake import file_for_resident
from node.catalogue.data import sample_catalogue
from node.cli import demo
from node.config import NodeConfig
from storage.database import db
from storage.models import Application

RESIDENT = demo.DEMO_RESIDENTS[0]
LEVELS = ("city", "county", "township", "village")  # the filing line; the second county (gaoping) apart


class Cluster:
    def __init__(self, base, port):
        self.configs = {node.directory: NodeConfig.load(base / node.directory) for node in demo.TREE}
        self.port = port
        self.servers = {}

    def serve(self, level: str, clock_shift_s: int = 0) -> None:
        self.servers[level] = start(
            ["serve", "--data", str(self.configs[level].data_dir)],
            self.configs[level].port,
            clock_shift_s=clock_shift_s,
            settings={"ONETRIP_SYNC_INTERVAL_S": "3600"},
        )

    def halt(self, level: str) -> None:
        stop(self.servers.pop(level))

    def sync(self, level: str) -> int:
        code = main(["sync", "--data", str(self.configs[level].data_dir)])
        db.close()
        return code

    def open(self, level: str):
        return open_node(self.configs[level])

    def backup(self, level: str) -> Path:
        """A copy of a node's database as a nightly backup would take it (SQLite's online backup)."""
        path = self.configs[level].data_dir / "onetrip.db"
        copy = path.with_name("backup.db")
        with sqlite3.connect(path) as source, sqlite3.connect(copy) as target:
            source.backup(target)
        return copy

    def restore(self, level: str, copy: Path) -> None:
        """Put a backup back in place of a node's database (the node not running)."""
        path = self.configs[level].data_dir / "onetrip.db"
        for extra in ("-wal", "-shm"):
            path.with_name(path.name + extra).unlink(missing_ok=True)
        copy.replace(path)


def file(node, *, item=None, applicant=RESIDENT, operator: str = "cun.agent") -> str:
    """File one application for a resident, as an agent does; by default of the first item an agent may file
    that has a deadline."""
    item = item or next(i for i in sample_catalogue().current() if i.proxy_allowed and i.promised_limit.days > 0)
    (number,) = file_for_resident(
        node,
        sample_catalogue(),
        item_code=item.code,
        applicant=applicant,
        consent=True,
        operator=operator,
        request_token=os.urandom(16).hex(),
        now=node.now(),
    )
    return number


def state_at(cluster, level: str, number: str) -> str | None:
    cluster.open(level)
    row = Application.get_or_none(Application.number == number)
    db.close()
    return row.state if row else None
