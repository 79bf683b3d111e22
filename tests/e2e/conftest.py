"""The demo tree, provisioned once per session and copied per test, with its hubs served on loopback."""

from __future__ import annotations

import shutil

import pytest

from harness.cluster import Cluster
from harness.servers import free_run
from node.cli import demo
from storage.database import db


@pytest.fixture(scope="session")
def demo_tree(tmp_path_factory):
    base = tmp_path_factory.mktemp("tree") / "demo"
    port = free_run(len(demo.TREE))
    demo.prepare(base, port)
    return base, port


@pytest.fixture
def cluster(demo_tree, tmp_path):
    base, port = demo_tree
    shutil.copytree(base, tmp_path / "demo")
    cluster = Cluster(tmp_path / "demo", port)
    try:  # a node that fails to start must not leave the others holding the tree's ports for later tests
        for level in ("city", "county", "township"):
            cluster.serve(level)
        yield cluster
    finally:
        db.close()
        for level in list(cluster.servers):
            cluster.halt(level)
