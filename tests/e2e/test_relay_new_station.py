"""A county relays a station it has just certified: the certificate (in the county's feed) and the
station's first events travel up to the city in one batch, with real servers on loopback."""

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
