"""What a thief can do with a copy of a station's data directory (keys included), with real servers on
loopback: forge events in its name and push them up. Invariant 11: a key speaks only for what it may sign."""

from __future__ import annotations

import shutil

import requests

from harness.clock import FrozenClock
from harness.tree import open_node
from harness.web import csrf, logged_in
from node.cli import demo
from node.config import NodeConfig
from node.link import forks, upstream
from storage.database import db
from storage.models import EventRecord, Operator, Revocation
from sync.batch import Batch, encode_batch
from sync.chain import GENESIS, link, sign_head
from sync.event import make_event, parse_event
from sync.request import PUSH_CONTEXT

IN_1970_MS = 86_400_000


def _stolen(cluster, tmp_path, level: str) -> NodeConfig:
    copy = tmp_path / f"stolen-{level}"
    shutil.copytree(cluster.configs[level].data_dir, copy)
    return NodeConfig.load(copy)


def test_a_stolen_village_pc_cannot_take_over_the_county_admins_account(cluster, tmp_path):
    upstream.sync_once(cluster.open("township"))  # the county's account is known above and below
    upstream.sync_once(cluster.open("village"))
    db.close()
    stolen = _stolen(cluster, tmp_path, "village")
    thief = open_node(stolen, clock=FrozenClock(IN_1970_MS))
    thief.events.clock.last = 0  # a PC whose date was set back, so the forgery sorts before everything
    village = thief.identity.station
    thief.events.append(
        "operator.created",
        "operator:county.admin",
        {"username": "county.admin", "name": "县管理员", "role": "agent", "station": village},
        stream=village,
    )
    stolen_installation = thief.identity.installation
    upstream.sync_once(open_node(stolen))  # pushed to the township with today's date on the request
    upstream.sync_once(cluster.open("township"))
    upstream.sync_once(cluster.open("county"))
    db.close()

    for level in ("township", "county", "city"):
        cluster.open(level)
        forged = EventRecord.get(
            (EventRecord.origin == stolen_installation)
            & (EventRecord.seq > 0)
            & (EventRecord.type == "operator.created")
            & (EventRecord.entity == "operator:county.admin")
        )
        assert forged.status == "quarantined" and "证书" in forged.reason, level
        admin = Operator.get_or_none(Operator.username == "county.admin")
        assert admin is None or (admin.station, admin.role) != (village, "agent"), level
    cluster.open("county")
    admin = Operator.get(Operator.username == "county.admin")
    assert (admin.station, admin.role, admin.disabled) == (cluster.open("county").identity.station, "admin", False)
    db.close()

    county = f"http://127.0.0.1:{cluster.configs['county'].port}"
    session = logged_in(county, "county.admin", demo.PASSWORD)
    answer = session.post(
        f"{county}/admin/revoke",
        data={
            "installation": stolen_installation,
            "reason": "电脑被盗",
            "csrf_token": csrf(session, f"{county}/admin/"),
        },
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    cluster.open("county")
    assert Revocation.select().where(Revocation.installation == stolen_installation).exists()
    db.close()
    assert requests.get(f"{county}/healthz", timeout=5).ok


def _forged_feed_event(thief) -> tuple[bytes, object]:
    """One event in the township's `all` stream, which a township may not write, signed with its stolen key
    under a head that expires within the minute (so the township would want to renew the feed at once)."""
    now_ms = thief.events.clock.clock.now_ms()
    event = make_event(
        origin=thief.identity.installation,
        stream="all",
        seq=1,
        hlc=thief.events.clock.now(),
        type="catalogue.published",
        entity="catalogue:forged",
        payload={},
        deps=(),
    )
    head = sign_head(
        thief.events.author.key,
        origin=thief.identity.installation,
        stream="all",
        seq=1,
        chain=link(GENESIS, event.eid),
        signed_at=thief.events.clock.now(),
        expires_at_ms=now_ms + 60_000,
    )
    return event.raw, head


def test_one_forged_event_in_a_townships_feed_does_not_wedge_it_and_the_county_holds_the_evidence(cluster, tmp_path):
    upstream.sync_once(cluster.open("township"))
    upstream.sync_once(cluster.open("village"))
    thief = open_node(_stolen(cluster, tmp_path, "township"))
    township = thief.identity.installation
    raw, head = _forged_feed_event(thief)
    parent = upstream.Parent(thief, None)
    parent.call(upstream.PUSH_PATH, PUSH_CONTEXT, encode_batch(Batch(cursor=0, runs=((head, (raw,)),))))
    db.close()
    cluster.open("county")
    assert EventRecord.get(EventRecord.origin == township, EventRecord.stream == "all").status == "quarantined"
    db.close()

    for _ in range(2):  # anti-entropy offers the forgery back; the township refuses it and keeps working
        report = upstream.sync_once(cluster.open("township"))
        db.close()
        assert upstream.sync_once(cluster.open("village")) is not None
        db.close()
    assert report is not None
    node = cluster.open("township")
    assert not EventRecord.select().where(EventRecord.origin == township, EventRecord.stream == "all").exists()
    assert node.events.sign_heads() is not None
    assert "密钥被盗用" in node.status().fork_warning and "本机照常工作" in node.status().fork_warning
    db.close()
    upstream.sync_once(cluster.open("township"))
    db.close()

    cluster.open("county")  # the township's report came up: the forged event with the head that signed it
    (reported,) = EventRecord.select().where(EventRecord.type == forks.FORKED, EventRecord.origin == township)
    assert reported.status == "applied" and parse_event(bytes(reported.body)).payload["held_eid"] == ""
    assert township in forks.warning() and "密钥被盗用" in forks.warning()
    db.close()
    county = f"http://127.0.0.1:{cluster.configs['county'].port}"
    dashboard = logged_in(county, "county.admin", demo.PASSWORD).get(f"{county}/dashboard/", timeout=10).text
    assert township in dashboard and "密钥被盗用" in dashboard
