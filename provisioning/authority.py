"""Invariant 5, as data: which kinds of event each level may sign.

A certificate carries its holder's list, so every node checks the same rule the
county certified; a stolen village PC cannot approve anything. Prefixes end in a
dot; anything else is an exact type.
"""

from __future__ import annotations

from functools import lru_cache

from provisioning.region import DIGITS, LEVELS, contains

# What a station does for the resident after filing; an agent's steps on an application's page.
FOR_THE_RESIDENT = (
    "application.corrected",
    "application.withdrawn",
    "application.delivered",
    "application.deferred_supplied",  # a 容缺 material brought to the station (or to the window: every level)
)
# What the resident does, signed by the station's key but only through the resident's own channels (the
# rating page an agent turns toward them, the public query page): never an operator's step.
BY_THE_RESIDENT = ("application.rated", "application.rating_added")
STATION = (
    "station.",
    "installation.",
    "operator.",
    "application.drafted",
    "application.filed",
    *FOR_THE_RESIDENT,
    *BY_THE_RESIDENT,
    "material.",
    "seal.used",
    "notice.printed",  # a notice its hub could not send, handed to the resident on paper (node.cases.notices)
    # 即办 and 秒办: approved by a station on the authority of the signed catalogue, checked by every projection
    # against the item's delegations and rules (node.catalogue.model.ServiceItem.authorised).
    "application.decided_on_authority",
)
DECIDING = (
    "application.accepted",
    "application.corrections_requested",
    "application.not_accepted",
    "application.review_started",
    "application.suspended",
    "application.resumed",
    "application.decided",
    "application.conflict_settled",
    "application.rule_disputed",  # a hub's re-check of a 秒办 under a newer rule: a conflict for a clerk
    "application.deferral_lapsed",  # 容缺 owed past its last day: the accepting level ends the case
)
# A hub's own: trust and reference data, seals, data keys, notices sent; a county's 差评整改 and 办件回访.
HUB = ("trust.", "catalogue.", "holiday.", "seal.", "datakey.", "notice.", "rectification.", "callback.")

AUTHORITY = {
    "village": STATION,
    "township": STATION + DECIDING,
    "county": STATION + DECIDING + HUB,
    "city": STATION + DECIDING + HUB,
}


# Pure, and asked for every event a node decides, with a handful of arguments a batch shares: answered once each.
@lru_cache(maxsize=256)
def allows(authority: tuple[str, ...], event_type: str) -> bool:
    return any(event_type.startswith(p) if p.endswith(".") else event_type == p for p in authority)


def above(level: str, region: str, other_level: str, other_region: str) -> bool:
    """Whether a station sits above another: a higher level, the other inside its division."""
    return (
        level in LEVELS
        and other_level in LEVELS
        and LEVELS.index(other_level) < LEVELS.index(level)
        and contains(region, other_region)
    )


def manages(hub_level: str, hub_region: str, level: str, region: str) -> bool:
    """Whether a hub (county or city) has jurisdiction over a station: registering, revoking, accounts."""
    return hub_level in ("county", "city") and above(hub_level, hub_region, level, region)


LEVEL_OF_CODE = {6: "county", 9: "township", 12: "village"}


@lru_cache(maxsize=8192)
def may_write(level: str, region: str, station: str, installation: str, stream: str) -> bool:
    """Which streams an installation may write (invariant 2): its station's, its provisional one
    from before enrolment, `all` for a hub, and those of the stations below it (a decision on a
    village's application goes into the deciding level's stream for that village). A 跨区域通办
    stream is written by its filing station and by the county that handles it, by nobody else: not
    the levels above the filing station, whose case it is not."""
    if stream == "all":
        return level in ("county", "city")
    home, handler = cross_region(stream)
    if handler is not None:
        return home == station or (level == "county" and region == handler)
    if stream == station:
        return True
    if stream == provisional_stream(region, installation):
        return True
    code = stream.partition("-")[0]
    target = LEVEL_OF_CODE.get(len(code)) if code.isdigit() else None
    return target is not None and above(level, region, target, code)


CROSS_REGION = "-TB"  # 通办: `<station>-TB<county>`, a station's cases handled by another county


def cross_region_stream(station: str, county: str) -> str:
    """The stream of a station's 跨区域通办 cases handled by `county` (a county's division code): one per
    handling county, so that the handling county's link carries that stream and nothing else of the station."""
    return f"{station}{CROSS_REGION}{county}"


def cross_region(stream: str) -> tuple[str, str | None]:
    """A stream's home station and, for a 通办 stream, the county that handles its cases (else None)."""
    home, marker, county = stream.partition(CROSS_REGION)
    if not marker or LEVEL_OF_CODE.get(len(county)) != "county" or not county.isdigit():
        return stream, None
    return home, county


def area_of(level: str, stream: str) -> str | None:
    """Which division one level below a hub's holds a stream's home station (a county, at a city; a township,
    at a county): the area whose batches its writers apply beside other areas' (`sync.log.EventLog.area_of`).
    None for a stream no such division holds: `all`, the hub's own, anything at a village."""
    if level not in LEVELS or level == LEVELS[0]:
        return None
    code = cross_region(stream)[0].partition("-")[0]
    digits = DIGITS[LEVELS[LEVELS.index(level) - 1]]
    return code[:digits] if code.isascii() and code.isdigit() and len(code) >= digits else None


def provisional_stream(region: str, installation: str) -> str:
    """The station code an installation writes under before its county registers it (`identity.py`)."""
    return f"{region}-{installation.removeprefix('i-')[:6]}"
