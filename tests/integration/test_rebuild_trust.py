"""Rebuilding a hub's or a station's projections from the log keeps its trust intact."""

from __future__ import annotations

from harness.tree import open_node, provision_county
from node.cli.demo import enrol_by_bundle
from node.config import NodeConfig
from node.fleet import admin as fleet
from node.runtime import initialise
from provisioning.ca import load_authority
from storage.database import db
from storage.models import Certificate, EventRecord, Operator, Revocation, Station


def snapshot():
    return (
        sorted((c.serial, c.installation, c.use) for c in Certificate.select()),
        sorted((s.code, s.name) for s in Station.select()),
        sorted((r.installation, r.stream, r.last_seq) for r in Revocation.select()),
        sorted((o.username, o.disabled) for o in Operator.select()),
        sorted((e.eid, e.status) for e in EventRecord.select()),
    )


def test_rebuild_at_a_county_and_a_village_changes_nothing(tmp_path):
    tree = provision_county(tmp_path)
    county = open_node(tree.county)
    done = fleet.register(county, name="青山村", level="village", region="511302001001", hub_url="http://x.invalid")
    db.close()
    village = NodeConfig(tmp_path / "village")
    initialise(village, level="village", name="青山村", region="511302001001", algorithm="ecdsa-p256-sha256")
    enrol_by_bundle(tree.county, village, done.code, "http://x.invalid")
    stolen = open_node(village).identity.installation
    fleet.revoke(open_node(tree.county), stolen, "测试")

    for config in (tree.county, village):
        node = open_node(config)
        before = snapshot()
        node.events.rebuild()
        assert snapshot() == before
        assert node.check() == []
    assert load_authority(tree.county.data_dir) is not None
    db.close()
