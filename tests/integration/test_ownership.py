"""Invariant 11: every entity a remote event touches is owned, and a stolen station key cannot take over
what belongs to another station, whatever order events arrive or replay in (the clock rule aside: these
forgeries carry honest times)."""

from __future__ import annotations

from harness.cluster import file
from harness.tree import open_node, provision_county, provision_village
from provisioning.operators import create_operator
from storage.database import db
from storage.models import Attachment, EventRecord, Operator, Station, StreamHead
from sync.chain import link, sign_head
from sync.event import make_event


def _forge(village, type_: str, entity: str, payload: dict):
    """One event signed with the village's key, made by hand as a thief would (its own node refuses some)."""
    node = open_node(village)
    origin, stream = node.identity.installation, node.identity.station
    held = StreamHead.get(origin=origin, stream=stream)
    event = make_event(
        origin=origin,
        stream=stream,
        seq=held.seq + 1,
        hlc=node.events.clock.now(),
        type=type_,
        entity=entity,
        payload=payload,
        deps=(),
    )
    head = sign_head(
        node.keys.signing,
        origin=origin,
        stream=stream,
        seq=event.seq,
        chain=link(held.chain, event.eid),
        signed_at=event.hlc,
        expires_at_ms=2**41,
    )
    batch = [*node.events.events_of(origin, stream), event.raw], head
    db.close()
    return batch


def test_a_village_key_cannot_take_an_account_of_the_county_even_dated_before_it(tmp_path):
    tree = provision_county(tmp_path)
    village = provision_village(tmp_path, tree)
    station = open_node(village).identity.station
    claim = {"username": "county.clerk", "name": "县窗口", "role": "agent", "station": station}
    batch = _forge(village, "operator.created", "operator:county.clerk", claim)  # dated before the real one

    county = open_node(tree.county)
    create_operator(
        county.events,
        county.identity.station,
        username="county.clerk",
        name="县窗口",
        role="clerk",
        password="a-long-password-1",
    )
    county.events.ingest(*batch)
    forged = EventRecord.get(EventRecord.entity == "operator:county.clerk", EventRecord.stream == station)
    assert forged.status == "quarantined" and "本站点的账号" in forged.reason
    real = Operator.get(Operator.username == "county.clerk")
    assert (real.station, real.role) == (county.identity.station, "clerk")
    county.events.rebuild()
    assert Operator.get(Operator.username == "county.clerk").role == "clerk"
    assert EventRecord.get(EventRecord.eid == forged.eid).status == "quarantined"
    db.close()


def test_a_village_key_cannot_declare_another_station_or_its_own_at_another_level(tmp_path):
    tree = provision_county(tmp_path)
    village = provision_village(tmp_path, tree)
    county_code = open_node(tree.county).identity.station
    declared = {"code": county_code, "name": "假县", "level": "village", "region": "511302001001"}
    batch = _forge(village, "station.created", f"station:{county_code}", declared)

    county = open_node(tree.county)
    county.events.ingest(*batch)
    assert (
        EventRecord.get(
            EventRecord.entity == f"station:{county_code}",
            EventRecord.type == "station.created",
            EventRecord.origin != county.identity.installation,
        ).status
        == "quarantined"
    )
    assert Station.get(Station.code == county_code).level == "county"
    db.close()


def test_a_village_key_cannot_attach_a_scan_to_another_stations_application(tmp_path):
    tree = provision_county(tmp_path)
    village = provision_village(tmp_path, tree)
    number = file(open_node(tree.county))  # filed at the county's own hall
    db.close()
    scan = {
        "number": number,
        "material": "m1",
        "blob": "0" * 64,
        "content_type": "application/pdf",
        "size": 1,
        "by": "cun.agent",
    }
    batch = _forge(village, "material.attached", f"application:{number}", scan)

    county = open_node(tree.county)
    county.events.ingest(*batch)
    forged = EventRecord.get(EventRecord.type == "material.attached")
    assert forged.status == "quarantined" and "材料只能记在事件流" in forged.reason
    assert not Attachment.select().where(Attachment.number == number).exists()
    db.close()
