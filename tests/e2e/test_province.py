"""The city forwards every application to the province, over real servers: the demo tree's applications reach
the city through its relays, and the city's outbox sends each to a loopback platform that fails a share of the
requests (some after keeping the record) and answers out of order. Nothing is kept twice, nothing is missing,
a record is sent again only when it changed, a case the platform lost comes back after the day's
reconciliation, and no resident's name or ID number leaves the city."""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest

from harness.cluster import RESIDENT, file
from harness.province import LoopbackProvince
from node.cases.intake import transition
from node.hub import dashboard, exchange, province
from node.hub.filters import Filters
from provisioning.region import CHINA
from storage.database import db
from storage.models import Application

HOUR_MS = 3_600_000


def drain(node, client, start_ms: int, rng) -> int:
    """Run the city's job, an hour apart, until nothing waits; the time it ended."""
    now = start_ms
    for _ in range(40):
        province.forward(node, client, now, rng)
        if province.backlog(now).waiting == 0:
            return now
        now += HOUR_MS
    raise AssertionError(f"still waiting after 40 hours: {province.backlog(now)}")


def _board_tables(node, *, forwarding: bool) -> dict:
    board = dashboard.build(
        "5113",
        Filters(),
        [],
        now=node.now(),
        own_station=node.identity.station,
        catalogues=node.reference.catalogues(),
        forwarding=forwarding,
    )
    return board.tables


def _board(node, *, forwarding: bool) -> dict:
    return dict(_board_tables(node, forwarding=forwarding)["province"].rows)


@pytest.mark.e2e
def test_the_city_forwards_every_case_once_again_only_when_changed_and_after_a_loss(cluster):
    filed = file(cluster.open("village"))
    db.close()
    for level in ("village", "township", "county"):
        assert cluster.sync(level) == 0, level
    platform, rng = LoopbackProvince(fail_share=0.4), random.Random(7)
    try:
        client = province.ProvinceClient(platform.url, "t0ken")
        city = cluster.open("city")
        numbers = {a.number for a in Application.select(Application.number)}
        assert filed in numbers and len(numbers) == 3
        start = city.events.clock.clock.now_ms()
        province.queue_changes(city, start)
        gauge = province.backlog(start + HOUR_MS)  # the dashboard's: how many wait, and the oldest
        assert (gauge.waiting, gauge.oldest_hours) == (3, 1.0) and gauge.oldest_number in numbers
        assert _board(city, forwarding=True)["待报送省平台的办件"] == 3  # on the city's dashboard, where it forwards
        assert "province" not in _board_tables(city, forwarding=False)  # a city that forwards nothing shows no outbox
        now = drain(city, client, start, rng)
        assert province.backlog(now) == province.Backlog(0, None)
        assert set(platform.log.cases) == numbers and platform.log.kept == len(numbers)
        assert platform.log.failed > 0 and platform.log.out_of_order > 0  # it misbehaved; nothing lost or kept twice
        catalogues = city.reference.catalogues()
        for number in numbers:
            assert platform.log.cases[number] == exchange.record(province.case_facts(number, catalogues))
        sent = json.dumps(list(platform.log.cases.values()), ensure_ascii=False)
        assert RESIDENT.name not in sent and RESIDENT.id_number not in sent  # the city cannot read them anyway
        assert province.send_due(city, client, now + HOUR_MS, rng) == 0  # unchanged: nothing sent again
        db.close()

        township = cluster.open("township")  # the window accepts one case; the change goes up to the city
        transition(township.events, filed, "application.accepted", {"by": "town.clerk"})
        township.events.sign_heads()
        db.close()
        assert cluster.sync("township") == 0 and cluster.sync("county") == 0
        city = cluster.open("city")
        now = drain(city, client, now + HOUR_MS, rng)
        assert platform.log.cases[filed]["basic"]["state"] == "accepted"
        assert platform.log.kept == len(numbers) + 1  # that case's new version, and only it

        platform.forget(filed)  # a platform restored from a backup of days ago: the city's nightly job finds out
        day, kept = Application.get_by_id(filed).filed_on, platform.log.kept
        night = dt.datetime.combine(day + dt.timedelta(days=5), dt.time(2, 30), CHINA)  # not only yesterday's
        drain(city, client, max(now, int(night.timestamp() * 1000)), rng)
        assert platform.log.cases[filed]["basic"]["state"] == "accepted" and set(platform.log.cases) == numbers
        assert platform.log.kept == kept + 1  # the lost case again; the day's others only as repeated keys
        db.close()
    finally:
        platform.close()
