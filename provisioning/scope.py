"""Invariant 7, as predicates over (origin, stream): what a link carries up, and what down.

Up, a node sends its own events and, as a relay, those of the stations below it, never
what it received from above. Down, a node receives what others wrote in the streams keyed
to itself or to a station below it, and the `all` streams of the hubs above it: never
another station's residents, and never back what went up. Who an origin is comes from
its certificate, never from the request.
"""

from __future__ import annotations

from functools import cached_property

from provisioning.authority import LEVEL_OF_CODE, above, cross_region, cross_region_stream
from provisioning.certs import Binding
from provisioning.region import area_prefix
from provisioning.trust import TRUST_STREAM, CertTrust
from storage.models import Application


def below_or_same(top: Binding, other: Binding) -> bool:
    return other.station == top.station or above(top.level, top.region, other.level, other.region)


def keyed_below(stream: str, station: Binding) -> bool:
    """A stream named for this station, or for a station whose division lies inside its own (a 通办 stream
    goes by its filing station: its line holds it as it holds the station's own)."""
    stream = cross_region(stream)[0]
    if stream == station.station:
        return True
    code = stream.partition("-")[0]
    level = LEVEL_OF_CODE.get(len(code)) if code.isdigit() else None
    return level is not None and above(station.level, station.region, level, code)


class Scope:
    """The scope of one station's link to its parent, asked once per stored stream header."""

    def __init__(self, trust: CertTrust, station: Binding):
        self.trust = trust
        self.station = station

    @property
    def streams(self) -> tuple[str, ...]:
        """Every stream the link carries is named so or starts so: reads narrow to these in the database."""
        return (TRUST_STREAM, area_prefix(self.station.region), *self.handled)

    @cached_property
    def handled(self) -> tuple[str, ...]:
        """The 通办 streams a county handles, by name, from the applications that name it (an index serves it):
        outside its area, they are the only streams of another county's stations its link carries (one per
        filing station)."""
        if self.station.level != "county":
            return ()
        region = self.station.region
        filing = Application.select(Application.station).where(Application.handler == region).distinct()
        return tuple(cross_region_stream(station, region) for station in filing.scalars())

    def holds(self, origin: str, stream: str) -> bool:
        """The link's scope both ways: what anti-entropy compares."""
        return self.sends_up(origin, stream) or self.receives(origin, stream)

    def sends_up(self, origin: str, stream: str) -> bool:
        author = self.trust.binding(origin)
        return author is not None and below_or_same(self.station, author)

    def receives(self, origin: str, stream: str) -> bool:
        """What others wrote about this station or those below it. Not what this installation or a station
        below it wrote: it has those already, or they reach it through its own link below (each link
        has its own cursors), so a relay never gets back what it pushed up. What an earlier installation
        of this station wrote does come down: that is how a replaced PC gets its station's work back."""
        author = self.trust.binding(origin)
        if author is None or author.installation == self.station.installation:
            return False
        if author.station != self.station.station and below_or_same(self.station, author):
            return False
        if stream == TRUST_STREAM:
            return above(author.level, author.region, self.station.level, self.station.region)
        return keyed_below(stream, self.station) or handled_by(stream, self.station)


def handled_by(stream: str, station: Binding) -> bool:
    """A 通办 stream whose cases this county handles: what the filing station and the county write there."""
    return station.level == "county" and cross_region(stream)[1] == station.region
