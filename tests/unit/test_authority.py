"""Who may sign what, and write where: pure rules of invariants 2 and 5."""

from __future__ import annotations

import pytest

from provisioning.authority import AUTHORITY, allows, area_of, manages, may_write

VILLAGE = ("village", "511302001001", "511302001001-01", "i-abcdef0123456789abcd")
TOWNSHIP = ("township", "511302001", "511302001-01", "i-1111110123456789abcd")
COUNTY = ("county", "511302", "511302-01", "i-2222220123456789abcd")


def test_a_village_files_but_cannot_decide():
    assert allows(AUTHORITY["village"], "application.filed")
    assert not allows(AUTHORITY["village"], "application.decided")
    assert not allows(AUTHORITY["village"], "trust.revoked")
    assert allows(AUTHORITY["township"], "application.decided")
    assert allows(AUTHORITY["county"], "trust.revoked")


@pytest.mark.parametrize(
    "writer, stream, allowed",
    [
        (VILLAGE, "511302001001-01", True),  # its own station
        (VILLAGE, "511302001001-abcdef", True),  # its provisional stream from before enrolment
        (VILLAGE, "511302001002-01", False),  # a neighbour
        (VILLAGE, "all", False),
        (TOWNSHIP, "511302001001-01", True),  # a village below it
        (TOWNSHIP, "511302002001-01", False),  # a village of another township
        (COUNTY, "511302001001-01", True),
        (COUNTY, "511303001001-01", False),  # another county's village
        (COUNTY, "all", True),
        (COUNTY, "crash", False),
    ],
)
def test_an_installation_writes_only_the_streams_of_its_station_and_those_below(writer, stream, allowed):
    assert may_write(*writer, stream) is allowed


def test_only_hubs_manage_stations_below_them_in_their_division():
    assert manages("county", "511302", "village", "511302001001")
    assert not manages("township", "511302001", "village", "511302001001")
    assert not manages("county", "511302", "county", "511302")
    assert not manages("county", "511302", "city", "511300")
    assert manages("city", "511300", "county", "511303")
    assert not manages("city", "511300", "county", "511402")


@pytest.mark.parametrize(
    ("level", "stream", "area"),
    [
        ("city", "511302001001", "511302"),  # a village's stream: its county's
        ("city", "511302001", "511302"),  # a township's own
        ("city", "511302", "511302"),  # a county hall's own
        ("city", "511302001001-TB511304", "511302"),  # a 通办 stream: its filing station's county, not the handler's
        ("city", "511302-a1b2c3", "511302"),  # provisional, before enrolment
        ("county", "511302001001", "511302001"),  # at a county: townships
        ("county", "511302", None),  # the county's own stream: no township holds it
        ("township", "511302001001", "511302001001"),
        ("city", "all", None),
        ("village", "511302001001", None),
    ],
)
def test_a_stream_lies_in_the_division_one_level_below_the_hub_that_holds_its_home_station(level, stream, area):
    assert area_of(level, stream) == area
