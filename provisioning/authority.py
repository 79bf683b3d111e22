"""Invariant 5, as data: which kinds of event each level may sign.

A certificate carries its holder's list, so every node checks the same rule the
county certified; a stolen village PC cannot approve anything. Prefixes end in a
dot; anything else is an exact type.
"""

from __future__ import annotations

from .region import LEVELS, contains

STATION = (
    "station.",
    "installation.",
    "operator.",
    "application.filed",
    "application.withdrawn",
    "application.delivered",
    "application.rated",
    "material.",
    "seal.used",
)
DECIDING = (
    "application.accepted",
    "application.corrections_requested",
    "application.not_accepted",
    "application.review_started",
    "application.decided",
)
HUB = ("trust.", "catalogue.", "holiday.", "seal.")

AUTHORITY = {
    "village": STATION,
    "township": STATION + DECIDING,
    "county": STATION + DECIDING + HUB,
    "city": STATION + DECIDING + HUB,
}


def allows(authority: tuple[str, ...], event_type: str) -> bool:
    return any(event_type.startswith(p) if p.endswith(".") else event_type == p for p in authority)


def manages(hub_level: str, hub_region: str, level: str, region: str) -> bool:
    """Whether a hub has jurisdiction over a station: a lower level, inside its division."""
    return (
        hub_level in ("county", "city")
        and level in LEVELS
        and LEVELS.index(level) < LEVELS.index(hub_level)
        and contains(hub_region, region)
    )
