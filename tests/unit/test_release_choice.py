"""Which release a node takes and which a hub keeps (node/releases/choice.py)."""

from node.releases.choice import Offer, kept_for_children, pick, version_key


def offer(version, platform="linux-x86_64", counties=(), stations=()) -> Offer:
    return Offer(f"onetrip-{version}-{platform}.tar.gz", version, f"{version}-x", platform, counties, stations, 1, "0")


def choose(offers, station="S1", county="511302", running="0.1.0", platform="linux-x86_64"):
    chosen = pick(offers, platform=platform, station=station, county=county, running=running)
    return chosen and chosen.version


def test_the_newest_release_newer_than_the_running_one_for_this_platform_is_taken():
    offers = [offer("0.1.1"), offer("0.1.10"), offer("0.1.9"), offer("0.2.0", platform="linux-aarch64")]
    assert choose(offers) == "0.1.10"  # by number, not as text
    assert choose(offers, platform="linux-aarch64") == "0.2.0"
    assert choose(offers, running="0.1.10") is None


def test_a_pinned_release_reaches_its_counties_only_and_a_ring_its_stations_only():
    offers = [offer("0.1.1"), offer("0.1.2", counties=("511303",)), offer("0.1.3", stations=("S9",))]
    assert choose(offers) == "0.1.1"
    assert choose(offers, county="511303") == "0.1.2"
    assert choose(offers, station="S9") == "0.1.3"


def test_a_hub_keeps_every_release_its_county_may_take_whatever_the_platform_or_ring():
    offers = [
        offer("0.1.1", platform="linux-aarch64"),
        offer("0.1.2", counties=("511303",)),
        offer("0.1.3", stations=("S9",)),
    ]
    assert [o.version for o in kept_for_children(offers, "511302")] == ["0.1.1", "0.1.3"]
    assert version_key("0.10.0") > version_key("0.9.9")
