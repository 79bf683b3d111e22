"""Residents' fields encrypted inside events: readable by each recipient, and shredded at the
station by deleting its wrapped key, without touching any event or chain."""

from __future__ import annotations

import base64

import pytest

from storage.models import EventRecord
from sync.datakeys import keep_data_key, load_data_key, shred_data_key
from sync.errors import KeyUnavailable
from sync.fields import decrypt_field, encrypt_field, lookup_hash, new_data_key, unwrap_data_key, wrap_data_key
from sync.keys import generate_agreement_key


def test_shredding_the_stations_key_makes_the_fields_unreadable_there_only(node):
    station_key, county_key = node.keys.agreement, generate_agreement_key()
    entity = "app-511302001001-000001"
    data_key = new_data_key()
    payload = {
        "name": encrypt_field(data_key, entity, "name", "张三"),
        "id_number": encrypt_field(data_key, entity, "id_number", "11010119900307451X"),
        "id_lookup": lookup_hash(node.keys.lookup, "id_number", "11010119900307451x"),
        "keys": {"county": base64.b64encode(wrap_data_key(data_key, county_key.public_key(), entity)).decode()},
    }
    with node.events.transaction():
        event = node.events.append(
            "station.created",  # the station declaring itself again: an event of its own to carry the fields
            f"station:{node.identity.station}",
            {
                "code": node.identity.station,
                "name": "x",
                "level": "village",
                "region": "511302001001",
                "resident": payload,
            },
            stream=node.identity.station,
        )
        keep_data_key(entity, "station", data_key, station_key.public_key())
    node.events.sign_heads()
    stored = bytes(EventRecord.get(EventRecord.eid == event.eid).body)

    fields = event.payload["resident"]
    opened = load_data_key(entity, "station", station_key)
    assert decrypt_field(opened, entity, "name", fields["name"]) == "张三"
    assert fields["id_lookup"] == lookup_hash(node.keys.lookup, "id_number", "11010119900307451X")
    assert "张三".encode() not in stored and b"11010119900307451X" not in stored

    assert shred_data_key(entity, "station")
    with pytest.raises(KeyUnavailable):
        load_data_key(entity, "station", station_key)
    assert bytes(EventRecord.get(EventRecord.eid == event.eid).body) == stored
    assert node.check() == []
    county_copy = unwrap_data_key(base64.b64decode(fields["keys"]["county"]), county_key, entity)
    assert decrypt_field(county_copy, entity, "id_number", fields["id_number"]) == "11010119900307451X"
