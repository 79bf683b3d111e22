"""What a hub relays up, with real servers on loopback: a station it has just certified travels with its
certificate in one batch; what it heard after its last push is left to the next push, not resent."""

from __future__ import annotations

from harness.cluster import file
from harness.tree import open_node
from node.cli.demo import enrol_by_bundle
from node.config import NodeConfig
from node.fleet import admin as fleet
from node.link import upstream
from node.runtime import initialise
from storage.database import db
from storage.models import Application
from sync.batch import DEFAULT_LIMITS


def test_a_station_certified_since_the_last_relay_reaches_the_city_with_its_certificate(cluster, tmp_path):
    county = cluster.configs["county"]
    url = f"http://127.0.0.1:{county.port}"
    done = fleet.register(cluster.open("county"), name="白塔村", level="village", region="511302001002", hub_url=url)
    db.close()
    village = NodeConfig(tmp_path / "baita")
    initialise(
        village, level="village", name="白塔村便民服务代办点", region="511302001002", algorithm="ecdsa-p256-sha256"
    )
    enrol_by_bundle(county, village, done.code, url)
    number = file(open_node(village))
    upstream.sync_once(open_node(village))
    db.close()
    for level in ("township", "county"):  # the village's parent is its township, which relays to the county
        upstream.sync_once(cluster.open(level))
        db.close()
    cluster.open("city")
    assert Application.get_or_none(Application.number == number) is not None
    db.close()


def test_what_arrived_since_the_last_push_is_left_to_the_next_push_not_resent(cluster):
    """A hub relaying in a storm hears from its stations while it pushes: its heads then differ from its
    parent's at the round's end, but nothing is lost, and anti-entropy must not send it all a second time."""
    for level in ("village", "township"):
        upstream.sync_once(cluster.open(level))
        db.close()
    number = file(cluster.open("village"))
    upstream.sync_once(cluster.open("village"))  # the township holds it now; it has not pushed since
    db.close()
    township = cluster.open("township")
    parent = upstream.Parent(township)
    link = upstream.link_row(parent.station)
    _, _, theirs = upstream._pull(parent, link, township)
    assert upstream._reconcile(parent, township, theirs, DEFAULT_LIMITS, link.up_cursor) == 0
    db.close()
    cluster.open("county")
    assert Application.get_or_none(Application.number == number) is None  # the next push brings it, once
    db.close()
