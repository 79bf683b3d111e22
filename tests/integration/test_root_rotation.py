"""The city rotates its root: counties certified under the old root keep verifying, a county
certified under the new one is trusted by every node that received the rotation."""

from __future__ import annotations

from harness.tree import open_node, provision_county
from node.cli.demo import enrol_by_bundle
from node.config import NodeConfig
from node.fleet import admin as fleet
from node.runtime import initialise
from provisioning.enrolment import install_trust
from provisioning.granting import trust_material
from provisioning.trust import anchors
from storage.database import db
from storage.models import EventRecord


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


def test_a_rotation_cut_short_leaves_a_working_authority_either_way(tmp_path, monkeypatch):
    import pytest

    from provisioning.ca import NEXT_CA_KEY_FILE, load_authority, require_authority

    tree = provision_county(tmp_path)
    county = open_node(tree.county)
    before = require_authority(tree.county.data_dir).cert

    # Fails before the event commits: the old key stays the key.
    def fail(*args, **kwargs):
        raise RuntimeError("power cut")

    monkeypatch.setattr(county.events, "append", fail)
    with pytest.raises(RuntimeError):
        fleet.rotate_authority(county)
    monkeypatch.undo()
    assert (tree.county.data_dir / NEXT_CA_KEY_FILE).exists()
    assert load_authority(tree.county.data_dir).cert == before
    assert not (tree.county.data_dir / NEXT_CA_KEY_FILE).exists()

    # Dies after the event committed but before the key file moved: the next load finishes the swap.
    monkeypatch.setattr(fleet, "promote_next_key", lambda data_dir: None)
    new = fleet.rotate_authority(county)
    monkeypatch.undo()
    assert load_authority(tree.county.data_dir).cert == new
    assert not (tree.county.data_dir / NEXT_CA_KEY_FILE).exists()
    assert list((tree.county.data_dir / "keys" / "retired").iterdir())
    db.close()
