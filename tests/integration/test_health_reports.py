"""What a relay reports of the stations behind it (`node.link.health`): said once until it changes, and kept by
the parent only when newer than what it heard."""

from __future__ import annotations

import datetime as dt

from node.fleet import admin as fleet
from node.link import health
from provisioning.certs import Binding
from storage.models import Contact

NOON = dt.datetime(2026, 12, 5, 4, 0)  # UTC


def _heard(station: str, at: dt.datetime, pending: int = 0) -> None:
    Contact.replace(station=station, installation="i-x", at=at, pending_events=pending, via=None).execute()


def test_a_relay_says_what_it_heard_of_its_stations_once_until_it_changes(county_node):
    _heard("511302001001-01", NOON)
    _heard("511302001002-01", NOON)
    first = health.report(county_node, "511300-01", 0, None)
    assert {e["station"] for e in first["below"]} == {"511302001001-01", "511302001002-01"}
    assert health.report(county_node, "511300-01", 0, None)["below"] == first["below"]  # not acknowledged yet

    assert health.acknowledged(county_node, "511300-01", first)["below"] == []
    assert health.report(county_node, "511300-01", 0, None)["below"] == []
    _heard("511302001002-01", NOON, pending=7)
    assert [e["pending_events"] for e in health.report(county_node, "511300-01", 0, None)["below"]] == [7]
    assert len(health.report(county_node, "511399-01", 0, None)["below"]) == 2  # another parent hears it all


def test_a_parent_keeps_a_relayed_report_only_when_newer_and_only_of_a_station_below_the_relay(county_node):
    done = fleet.register(county_node, name="白塔村", level="village", region="511302001002", hub_url="http://x")
    township = Binding("511302001-01", "i-town", "township", "镇", "511302001", None, "signing", ())
    elsewhere = Binding("511302002-01", "i-else", "township", "别镇", "511302002", None, "signing", ())
    _heard(done.station, NOON + dt.timedelta(minutes=5))

    def said(at: dt.datetime, pending: int) -> dict:
        entry = {"station": done.station, "installation": "i-v", "at": at.replace(tzinfo=dt.UTC).isoformat()}
        return {"version": "1", "below": [entry | {"pending_events": pending}]}

    health.reported(county_node, township, said(NOON, 3))  # older than what the county heard itself
    assert Contact.get_by_id(done.station).pending_events == 0
    health.reported(county_node, elsewhere, said(NOON + dt.timedelta(minutes=9), 4))  # not below that township
    assert Contact.get_by_id(done.station).pending_events == 0
    health.reported(county_node, township, said(NOON + dt.timedelta(minutes=9), 5))
    row = Contact.get_by_id(done.station)
    assert (row.pending_events, row.via) == (5, "511302001-01")
