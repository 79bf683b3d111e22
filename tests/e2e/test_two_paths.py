"""A village whose township cannot be reached syncs straight with its county; when the township is back,
the same events reach the county a second way and are applied once. Real servers on loopback."""

from __future__ import annotations

import random

from app import main
from harness.cluster import file, state_at
from node.cases.intake import transition
from node.link import schedule, upstream
from storage.database import db
from storage.models import EventRecord, SyncLink


def events_of(cluster, level: str, number: str) -> int:
    cluster.open(level)
    count = EventRecord.select().where(EventRecord.entity == f"application:{number}").count()
    db.close()
    return count


def test_with_the_township_down_the_village_goes_straight_to_the_county_and_nothing_arrives_twice(cluster, capsys):
    upstream.sync_once(cluster.open("village"))
    db.close()
    cluster.halt("township")
    number = file(cluster.open("village"))
    db.close()

    report = schedule.sync_if_due(cluster.open("village"), random.Random(1))  # the scheduler's job
    assert report is not None and report.pushed >= 1
    db.close()
    assert state_at(cluster, "county", number) == "submitted"
    county = cluster.open("county")
    transition(county.events, number, "application.accepted", {"by": "county.clerk"})
    db.close()
    assert cluster.sync("village") == 2  # the parent is still down: the CLI says so in plain words
    assert "连不上上级" in capsys.readouterr().err
    assert main(["sync", "--county", "--data", str(cluster.configs["village"].data_dir)]) == 0
    db.close()
    assert state_at(cluster, "village", number) == "accepted"

    cluster.serve("township")
    assert cluster.sync("village") == 0  # the township's own link: it gets the village's work now
    assert cluster.sync("township") == 0  # and relays it to the county, which holds it already
    assert [events_of(cluster, level, number) for level in ("village", "township", "county")] == [2, 2, 2]
    assert state_at(cluster, "township", number) == "accepted"
    cluster.open("village")
    assert {link.parent for link in SyncLink.select()} == {"511302001-01", "511302-01"}  # a link each
    db.close()
