"""跨区域通办 as pure rules: the stream's name, who may write it, which links carry it, and the city's list."""

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from node.catalogue.data import sample_catalogue
from node.catalogue.model import Catalogue, cross_region_list
from provisioning.authority import cross_region, cross_region_stream, may_write
from provisioning.certs import Binding
from provisioning.scope import handled_by, keyed_below

VILLAGE = "511302001001-01"  # 顺庆区
STREAM = cross_region_stream(VILLAGE, "511303")  # handled by 高坪区


def binding(station: str, level: str, region: str) -> Binding:
    return Binding(station, "i-" + station, level, station, region, None, "signing", ())


def test_the_stream_names_its_station_and_handling_county():
    assert STREAM == "511302001001-01-TB511303"
    assert cross_region(STREAM) == (VILLAGE, "511303")
    assert cross_region(VILLAGE) == (VILLAGE, None)
    assert cross_region("all") == ("all", None)
    assert cross_region(f"{VILLAGE}-TB511") == (f"{VILLAGE}-TB511", None)  # not a county: not a 通办 stream


@given(st.text(max_size=30))
def test_any_stream_name_parses_to_a_home_and_at_most_a_county(stream):
    home, county = cross_region(stream)
    assert county is None or (len(county) == 6 and county.isdigit() and stream == cross_region_stream(home, county))


def test_only_the_filing_station_and_the_handling_county_write_a_cross_region_stream():
    assert may_write("village", "511302001001", VILLAGE, "i-v", STREAM)
    assert may_write("county", "511303", "511303-01", "i-g", STREAM)
    assert not may_write("township", "511302001", "511302001-01", "i-t", STREAM)  # above the village, not its case
    assert not may_write("county", "511302", "511302-01", "i-s", STREAM)  # the filing county neither
    assert not may_write("county", "511304", "511304-01", "i-o", STREAM)  # nor a third county
    assert not may_write("city", "511300", "511300-01", "i-c", STREAM)
    assert not may_write("village", "511302001002", "511302001002-01", "i-w", STREAM)  # nor a neighbour
    assert may_write("county", "511302", "511302-01", "i-s", VILLAGE)  # its own stations' streams, as ever


def test_the_filing_line_holds_it_as_the_stations_own_and_only_the_handling_county_besides():
    for holder in (
        binding(VILLAGE, "village", "511302001001"),
        binding("511302001-01", "township", "511302001"),
        binding("511302-01", "county", "511302"),
        binding("511300-01", "city", "511300"),
    ):
        assert keyed_below(STREAM, holder), holder.level
        assert not handled_by(STREAM, holder)
    handling = binding("511303-01", "county", "511303")
    assert handled_by(STREAM, handling) and not keyed_below(STREAM, handling)
    assert not handled_by(VILLAGE, handling)  # the station's own stream never goes there
    for other in (binding("511303001-01", "township", "511303001"), binding("511304-01", "county", "511304")):
        assert not handled_by(STREAM, other) and not keyed_below(STREAM, other)


def item(code: str, version: int = 1, **changes):
    model = sample_catalogue().current()[0]
    return dataclasses.replace(model, code=code, version=version, **changes)


A, B = "11511303MB0000001X-0001", "11511303MB0000001X-0002"


def test_the_city_lists_every_version_of_marked_items_naming_their_county():
    counties = {"511303": ("高坪区", Catalogue.build([item(A, 1), item(A, 2, cross_region=True), item(B, 1)]))}
    listed = cross_region_list(counties, None)
    assert set(listed.versions) == {A}
    assert [i.version for i in listed.versions[A]] == [1, 2]
    assert {(i.handler, i.handler_name) for i in listed.versions[A]} == {("511303", "高坪区")}


def test_a_withdrawn_item_keeps_its_versions_and_shows_it_is_no_longer_listed():
    first = cross_region_list({"511303": ("高坪区", Catalogue.build([item(A, 1, cross_region=True)]))}, None)
    later = Catalogue.build([item(A, 1, cross_region=True), item(A, 2)])
    withdrawn = cross_region_list({"511303": ("高坪区", later)}, first)
    assert [i.version for i in withdrawn.versions[A]] == [1, 2] and not withdrawn.item(A).cross_region


def test_a_countys_own_items_stay_its_own_when_merged_with_the_list():
    own = Catalogue.build([item(A, 1)])
    listed = cross_region_list({"511303": ("高坪区", Catalogue.build([item(A, 1, cross_region=True)]))}, None)
    assert own.with_cross_region(listed).item(A).handler == ""  # at 高坪区 itself: an ordinary case
    assert Catalogue.build([]).with_cross_region(listed).item(A).handler == "511303"
