"""The city rotates its root: counties certified under the old root keep verifying, a county
certified under the new one is trusted by every node that received the rotation."""

from __future__ import annotations

from node import fleet
from node.config import NodeConfig
from node.demo import enrol_by_bundle
from node.runtime import initialise
from provisioning.enrolment import install_trust, trust_material
from provisioning.trust import anchors
from storage.database import db
from storage.models import EventRecord
from tests.support.tree import open_node, provision_county


def test_a_new_root_signed_by_the_old_one_is_followed_by_nodes_below(tmp_path):
    tree = provision_county(tmp_path)
    city = open_node(tree.city)
    fleet.rotate_authority(city)
    assert len(anchors()) == 2
    registered = fleet.register(
        city, name="高坪区政务服务中心", level="county", region="511303", hub_url="http://city.invalid"
    )
    db.close()
    other = NodeConfig(tmp_path / "other-county")
    initialise(other, level="county", name="高坪区政务服务中心", region="511303", algorithm="ecdsa-p256-sha256")
    enrol_by_bundle(tree.city, other, registered.code, "http://city.invalid")
    other_installation = open_node(other).identity.installation
    feed = trust_material(open_node(tree.city).events)

    county = open_node(tree.county)
    assert county.events.trust.verifying_key(other_installation) is None
    install_trust(county.events, feed)
    assert len(anchors()) == 2
    assert county.events.trust.verifying_key(other_installation) is not None
    assert county.check() == []
    assert EventRecord.select().where(EventRecord.status == "quarantined").count() == 0
    db.close()
