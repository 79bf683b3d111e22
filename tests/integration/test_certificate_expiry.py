"""A certificate nearing expiry is shown weeks ahead, and a failed renewal while offline is only a warning."""

from __future__ import annotations

import datetime as dt
import logging

from harness.clock import FrozenClock
from harness.tree import open_node, provision_county
from node.cli.demo import enrol_by_bundle
from node.config import NodeConfig
from node.fleet import admin as fleet
from node.runtime import initialise
from storage.database import db


def test_the_status_warns_a_month_ahead_and_an_offline_renewal_only_logs(tmp_path, caplog):
    tree = provision_county(tmp_path)
    village = NodeConfig(tmp_path / "village")
    done = fleet.register(
        open_node(tree.county), name="青山村", level="village", region="511302001001", hub_url="http://127.0.0.1:9"
    )  # nothing listens there: the hub is unreachable
    db.close()
    initialise(village, level="village", name="青山村", region="511302001001", algorithm="ecdsa-p256-sha256")
    enrol_by_bundle(tree.county, village, done.code, "http://127.0.0.1:9")

    now = dt.datetime.now(dt.UTC)
    node = open_node(village, FrozenClock(int(now.timestamp() * 1000)))
    assert node.status().certificate_warning is None
    expires = dt.date.fromisoformat(node.status().certificate_expires)

    later = dt.datetime.combine(expires, dt.time(), dt.UTC) - dt.timedelta(days=20)
    node = open_node(village, FrozenClock(int(later.timestamp() * 1000)))
    assert "到期" in node.status().certificate_warning
    with caplog.at_level(logging.WARNING):
        node.watch_certificate()
    assert "renewal failed" in caplog.text
    db.close()


def test_a_parent_feed_not_re_signed_within_its_lifetime_is_reported_as_frozen(tmp_path):
    tree = provision_county(tmp_path)
    now = dt.datetime.now(dt.UTC)
    county = open_node(tree.county, FrozenClock(int(now.timestamp() * 1000)))
    assert county.status().trust_warning is None
    eight_days = FrozenClock(int((now + dt.timedelta(days=8)).timestamp() * 1000))
    county = open_node(tree.county, eight_days)
    assert "未再更新" in county.status().trust_warning  # the city's feed, signed with a 7-day lifetime

    # A quiet hub keeps its own feed fresh by re-signing its head before half the lifetime is gone.
    city = open_node(tree.city, FrozenClock(int((now + dt.timedelta(days=4)).timestamp() * 1000)))
    assert any(h.stream == "all" for h in city.events.sign_heads())
    db.close()
