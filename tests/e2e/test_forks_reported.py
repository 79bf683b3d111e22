"""A cloned village PC is caught where its second history arrives, and the county hears of it and
proves it itself, with real servers on loopback."""

from __future__ import annotations

import shutil

import pytest

from harness.cluster import file
from harness.tree import open_node
from harness.web import logged_in
from node.cli import demo
from node.config import NodeConfig
from node.link import forks, upstream
from storage.database import db
from storage.models import EventRecord, ForkEvidence
from sync.transport import Refused


def test_a_fork_found_at_the_township_is_reported_to_the_county_which_proves_it(cluster, tmp_path):
    upstream.sync_once(cluster.open("village"))
    db.close()
    clone = tmp_path / "clone"
    shutil.copytree(cluster.configs["village"].data_dir, clone)  # the same keys on a second PC
    file(cluster.open("village"))
    upstream.sync_once(cluster.open("village"))
    db.close()

    cloned = open_node(NodeConfig.load(clone))
    file(cloned)
    with pytest.raises(Refused) as refused:
        upstream.sync_once(cloned)
    assert refused.value.code == "fork"
    db.close()

    cluster.open("township")
    (kept,) = ForkEvidence.select()
    assert EventRecord.select().where(EventRecord.type == forks.FORKED).count() == 1
    assert "签署了两份不同的事件历史" in forks.warning()
    db.close()
    upstream.sync_once(cluster.open("township"))
    db.close()

    cluster.open("county")  # the report came up in the township's own stream; the county checked it
    (proven,) = ForkEvidence.select()
    assert (proven.origin, proven.seq, proven.other_eid) == (kept.origin, kept.seq, kept.other_eid)
    assert kept.origin in forks.warning() and "停止应用" in forks.warning()
    db.close()
    county = f"http://127.0.0.1:{cluster.configs['county'].port}"
    dashboard = logged_in(county, "county.admin", demo.PASSWORD).get(f"{county}/dashboard/", timeout=10).text
    assert "签署了两份不同的事件历史" in dashboard and kept.origin in dashboard
