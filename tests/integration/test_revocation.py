"""A revocation vouches for exactly the history the county held: elsewhere, a thief's other
history up to the same seq is refused, the real one accepted, anything later quarantined."""

from __future__ import annotations

import pytest

from harness.tree import open_node, provision_county
from node.cli.demo import enrol_by_bundle
from node.config import NodeConfig
from node.fleet import admin as fleet
from node.runtime import initialise
from provisioning.enrolment import install_trust
from provisioning.granting import trust_material
from storage.database import db
from sync.chain import GENESIS, link, sign_head
from sync.errors import ChainError
from sync.event import make_event


def history(node, values, start=1, prev=GENESIS):
    events, chain = [], prev
    for seq, value in enumerate(values, start=start):
        event = make_event(
            origin=node.identity.installation,
            stream=node.identity.station,
            seq=seq,
            hlc=node.events.clock.now(),
            type="station.created",  # the station declaring itself, as it may: only its name differs
            entity=f"station:{node.identity.station}",
            payload={"code": node.identity.station, "name": value, "level": "village", "region": node.identity.region},
        )
        chain = link(chain, event.eid)
        events.append(event)
    head = sign_head(
        node.keys.signing,
        origin=node.identity.installation,
        stream=node.identity.station,
        seq=start + len(values) - 1,
        chain=chain,
        signed_at=1,
        expires_at_ms=2**41,
    )
    return [e.raw for e in events], head, chain


def test_after_revocation_only_the_vouched_history_is_accepted_elsewhere(tmp_path):
    tree = provision_county(tmp_path)
    done = fleet.register(
        open_node(tree.county), name="青山村", level="village", region="511302001001", hub_url="http://x.invalid"
    )
    db.close()
    village = NodeConfig(tmp_path / "village")
    initialise(village, level="village", name="青山村", region="511302001001", algorithm="ecdsa-p256-sha256")
    enrol_by_bundle(tree.county, village, done.code, "http://x.invalid")
    thief = open_node(village)
    real = history(thief, ["a", "b"])
    forged = history(thief, ["x", "y"])
    later = history(thief, ["c"], start=3, prev=real[2])
    db.close()

    county = open_node(tree.county)
    county.events.ingest(*real[:2])
    fleet.revoke(county, thief.identity.installation, "电脑被盗")
    feed = trust_material(county.events)

    city = open_node(tree.city)
    install_trust(city.events, feed)
    with pytest.raises(ChainError) as refused:
        city.events.ingest(*forged[:2])
    assert refused.value.code == "fork"
    assert city.events.ingest(*real[:2]).applied == 2
    assert city.events.ingest(*later[:2]).quarantined == 1
    db.close()
