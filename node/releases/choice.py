"""Which of the published releases a node takes, and which a hub keeps for its children (pure).

Each target carries, in its custom metadata, its version, platform and two lists: `counties` pins it to
those counties (empty: every county), `stations` makes it a ring (empty: every station). Both are signed
with targets, so a mirror cannot widen or narrow them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Offer:
    name: str  # the target's path: the archive's file name
    version: str
    release: str
    platform: str
    counties: tuple[str, ...]
    stations: tuple[str, ...]
    length: int
    sha256: str


def offers_of(targets: dict) -> list[Offer]:
    """The OneTrip releases among signed targets (`Targets.targets`); other targets are ignored."""
    offers = []
    for name, target in targets.items():
        custom = (target.custom or {}).get("onetrip") or {}
        if custom.get("version") and custom.get("platform"):
            offers.append(
                Offer(
                    name,
                    custom["version"],
                    custom.get("release", ""),
                    custom["platform"],
                    tuple(custom.get("counties", ())),
                    tuple(custom.get("stations", ())),
                    target.length,
                    target.hashes["sha256"],
                )
            )
    return offers


def version_key(version: str) -> tuple:
    return tuple(int(part) if part.isdigit() else part for part in version.split("."))


def in_county(offer: Offer, county: str) -> bool:
    return not offer.counties or county in offer.counties


def pick(offers: list[Offer], *, platform: str, station: str, county: str, running: str) -> Offer | None:
    """The newest release for this platform, county and station that is newer than the one running."""
    fitting = [
        offer
        for offer in offers
        if offer.platform == platform
        and in_county(offer, county)
        and (not offer.stations or station in offer.stations)
        and version_key(offer.version) > version_key(running)
    ]
    return max(fitting, key=lambda offer: version_key(offer.version), default=None)


def kept_for_children(offers: list[Offer], county: str) -> list[Offer]:
    """A hub mirrors every release its county may take, whatever the platform or ring: its children decide."""
    return [offer for offer in offers if in_county(offer, county)]
