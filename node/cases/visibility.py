"""Who sees which applications: one rule, written as a query condition, that the detail page, the queue,
the JSON list, search and the counts all add, so none of them can tell a person more than another.

A node holds its area's applications; a clerk or an admin sees them all, an agent only those of their own
station (DESIGN invariant 12: a resident's data is read where the case is handled). Otherwise an agent at
a township could search the villages below it by name or ID number: a yes/no oracle on residents.
"""

from __future__ import annotations

from dataclasses import dataclass

import peewee as pw

from storage.models import Application


@dataclass(frozen=True)
class Viewer:
    """A person looking at a node's applications."""

    area: str  # the division-code prefix of the node's area (`provisioning.region.area_prefix`)
    role: str  # agent | clerk | admin
    station: str  # the station of the person's account


def in_area(area: str, *, walked: bool = False) -> pw.Expression:
    """The applications of the node's area, and those it handles for stations of other counties (通办).
    `walked`: written so that no index can serve it, for a page walked along the (filed_on, number) index
    (with the index on station the planner would sort every matching row first); otherwise a range on the
    index that starts with the station."""
    handled = Application.handler == area  # 跨区域通办: another county's station filed it, this county handles it
    if walked:
        return (pw.fn.SUBSTR(Application.station, 1, len(area)) == area) | handled
    return ((Application.station >= area) & (Application.station < area + "~")) | handled


def visible(viewer: Viewer, *, walked: bool = False) -> pw.Expression:
    """The applications `viewer` may see."""
    seen = in_area(viewer.area, walked=walked)
    if viewer.role == "agent":
        seen &= Application.station == viewer.station
    return seen


def access(number: str, viewer: Viewer) -> tuple[str, Application | None]:
    """Whether `viewer` sees one application: "ok" with its row, "hidden" (not in this node's area: as if it
    did not exist), or "forbidden" (in the area, outside what the rule lets this person see)."""
    row = Application.get_or_none((Application.number == number) & in_area(viewer.area))
    if row is None:
        return "hidden", None
    if not Application.select().where((Application.number == number) & visible(viewer)).exists():
        return "forbidden", row
    return "ok", row
