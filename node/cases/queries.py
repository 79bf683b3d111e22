"""What pages and the API read of applications: one page of a search (keyset-paginated, by number or a
name's keyed hash, within what the viewer may see) and an application's timeline.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import peewee as pw

from node.cases.events import entity
from node.cases.marks import RUNNING
from node.cases.visibility import Viewer, visible
from node.rules import ratings
from node.rules.identifiers import (
    normalise_id_number,
)
from provisioning.region import CHINA
from storage.models import (
    Application,
    DeadlineMark,
    EventRecord,
    Installation,
    Station,
)
from sync.event import Event, parse_event
from sync.fields import (
    lookup_hash,
)
from sync.log import APPLIED
from sync.order import causal_order


@dataclass(frozen=True)
class Step:
    """One line of an application's timeline: what happened, when (Beijing time) and by whom."""

    event_type: str
    at: dt.datetime
    by: str
    note: str
    approved: bool | None = None  # a decision's outcome
    body: str = ""  # the station whose installation signed it, by name
    payload: dict | None = None  # what the step says besides (who by name, a staff number), for papers


def applied_events(number: str) -> list[Event]:
    """The application's applied events in causal order: what its timelines are read from."""
    rows = EventRecord.select(EventRecord.body).where(
        (EventRecord.entity == entity(number)) & (EventRecord.status == APPLIED)
    )
    return causal_order(parse_event(bytes(body)) for (body,) in rows.tuples())


def case_items(case_number: str) -> list[Application]:
    """The applications of a 一件事 case, its first (whose number the case bears) first."""
    return list(Application.select().where(Application.case_number == case_number).order_by(Application.number))


def timeline(number: str) -> list[Step]:
    """The application's events in causal order, as a person reads them."""
    events = applied_events(number)
    return [
        Step(
            e.type,
            dt.datetime.fromtimestamp((e.hlc >> 16) / 1000, CHINA),
            e.payload.get("operator") or e.payload.get("by") or ratings.CHANNELS.get(e.payload.get("channel"), ""),
            _note(e.type, e.payload),
            e.payload.get("approved"),
            body_of(e.origin),
            e.payload,
        )
        for e in events
    ]


def _note(event_type: str, payload: dict) -> str:
    """What a timeline line says after the step: a rating's grade in words and its reasons, the comment
    after them; otherwise the reason or the note given."""
    if event_type == "application.rated":
        grade = payload.get("grade") or ratings.grade_of_stars(int(payload.get("stars", 0)))
        rating = ratings.describe(grade, payload.get("reasons") or [])
        return f"{rating}：{payload['comment']}" if payload.get("comment") else rating
    return payload.get("reason") or payload.get("comment") or payload.get("note", "")


@dataclass(frozen=True)
class Page:
    """One page of a list, newest first, and the cursors of the pages either side (None at an end)."""

    rows: list[Application]
    total: int
    newer: str | None
    older: str | None


def _cursor(row: Application) -> str:
    return f"{row.filed_on.isoformat()}_{row.number}"


def _position(cursor: str) -> tuple[dt.date, str] | None:
    """A cursor back into (filed on, number); None for anything a person or a stale link made up."""
    day, _, number = (cursor or "").partition("_")
    try:
        return dt.date.fromisoformat(day), number
    except ValueError:
        return None


def search(
    query: str,
    viewer: Viewer,
    lookup_key: bytes,
    *,
    per_page: int,
    older_than: str = "",
    newer_than: str = "",
    due: str = "",
    states: tuple[str, ...] = (),
    item_codes: tuple[str, ...] = (),
    owing: bool = False,
) -> Page:
    """The applications `viewer` may see, newest first, by keyset: a page after a cursor costs the same at
    the 50,000th application as at the first, where an OFFSET walks every row before it.

    The query is an ID number (found by its keyed hash), the start of an application number, or a name
    (by its keyed hash), or the name of an item (`item_codes`, the catalogue's items whose name holds the
    query): nothing is decrypted to search. `due` keeps those marked due_soon or overdue, `states` those
    in one of these states, `owing` those that still owe deferred (容缺) materials."""
    found = Application.select().where(visible(viewer, walked=True))  # the page walks the order's index
    counted = Application.select().where(visible(viewer))
    condition = _matching(query.strip(), lookup_key)
    if item_codes:
        by_item = Application.item_code.in_(list(item_codes))
        condition = by_item if condition is None else (condition | by_item)
    if condition is not None:
        found, counted = found.where(condition), counted.where(condition)
    if states:
        found, counted = (
            found.where(Application.state.in_(list(states))),
            counted.where(Application.state.in_(list(states))),
        )
    if owing:
        found, counted = found.where(Application.deferral_owed > 0), counted.where(Application.deferral_owed > 0)
    if due:
        marked = DeadlineMark.select(DeadlineMark.number).where(DeadlineMark.status == due)
        found = found.where(Application.number.in_(marked) & Application.state.in_(RUNNING))
        counted = counted.where(Application.number.in_(marked) & Application.state.in_(RUNNING))
    key = pw.Tuple(Application.filed_on, Application.number)
    newer, older = _position(newer_than), _position(older_than)
    if newer:  # the page above: walk upwards from the cursor, then show it newest first
        rows = list(found.where(key > pw.Tuple(*newer)).order_by(*_key_order(asc=True)).limit(per_page + 1))
        more_newer, rows = len(rows) > per_page, rows[:per_page][::-1]
        more_older = True
    else:
        if older:
            found = found.where(key < pw.Tuple(*older))
        rows = list(found.order_by(*_key_order(asc=False)).limit(per_page + 1))
        more_older, rows, more_newer = len(rows) > per_page, rows[:per_page], older is not None
    return Page(
        rows,
        counted.count(),
        _cursor(rows[0]) if rows and more_newer else None,
        _cursor(rows[-1]) if rows and more_older else None,
    )


def _key_order(asc: bool) -> tuple:
    if asc:
        return Application.filed_on.asc(), Application.number.asc()
    return Application.filed_on.desc(), Application.number.desc()


def _matching(query: str, lookup_key: bytes):
    """What a search box's text means: an ID number, whole or masked as lists show it, or its last four
    characters (what a resident reads out); the start of an application number; or a name."""
    if not query:
        return None
    id_number = normalise_id_number(query)
    if re.fullmatch(r"\d{17}[\dX]", id_number):
        return Application.id_lookup == lookup_hash(lookup_key, "id_number", id_number)
    if re.fullmatch(r"\d{3}\*+\d{3}[\dX]", id_number):
        return Application.masked_id == id_number
    if re.fullmatch(r"\d{3}[\dX]", id_number):
        return Application.masked_id.endswith(id_number)
    if re.fullmatch(r"[0-9A-Za-z-]+", query):
        return (Application.number >= query) & (Application.number < query + "~")
    return Application.name_lookup == lookup_hash(lookup_key, "name", query)


def station_name(code: str) -> str:
    station = Station.get_or_none(Station.code == code)
    return station.name if station else f"站点 {code}"


def body_of(origin: str) -> str:
    """The station whose installation signed the step: a body's name, never who was logged in."""
    installation = Installation.get_or_none(Installation.id == origin)
    return station_name(installation.station) if installation else "（未知站点）"
