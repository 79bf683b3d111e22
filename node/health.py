"""Every node's health as its hubs see it: last contact, clock offset, version, and what waits to be sent.

A child reports its own figures in each pull, and a relay adds what its own children last reported to
it, so a county sees the villages behind a township too. The figures are the child's word (a relay's for
those behind it): they inform the fleet page, they decide nothing.
"""

from __future__ import annotations

import datetime as dt
from importlib import metadata
from typing import TYPE_CHECKING

from provisioning.authority import above
from provisioning.certs import Binding
from storage.database import write_transaction
from storage.models import Contact, Station, upsert
from sync.request import SignedRequest

if TYPE_CHECKING:
    from .runtime import Node

VERSION = metadata.version("onetrip")
STALE = dt.timedelta(hours=1)
OFFLINE = dt.timedelta(hours=24)
RESOLUTION = dt.timedelta(minutes=1)  # how fresh "last contact" needs to be on a fleet page
RELAYED_LIMIT = 5_000  # a township's villages, with room to spare; a pull body stays small


def report(node: Node, pending_events: int, oldest_unsent_s: int | None) -> dict:
    """What a pull tells the parent: this node's figures, and those its own children last reported."""
    below = [
        {
            "station": c.station,
            "installation": c.installation,
            "at": c.at.replace(tzinfo=dt.UTC).isoformat(),
            "clock_offset_ms": c.clock_offset_ms,
            "version": c.version,
            "pending_events": c.pending_events,
            "oldest_unsent_s": c.oldest_unsent_s,
        }
        for c in Contact.select().order_by(Contact.at.desc()).limit(RELAYED_LIMIT)
    ]
    return {"version": VERSION, "pending_events": pending_events, "oldest_unsent_s": oldest_unsent_s, "below": below}


def contacted(node: Node, sender: Binding, request: SignedRequest) -> None:
    """An authenticated request arrived: when, and how far the sender's clock is from ours. Written at
    most once a minute per station, so that an idle round costs the hub no extra commit."""
    now = node.now()
    offset = request.time_ms - int(now.timestamp() * 1000)
    known = Contact.get_or_none(Contact.station == sender.station)
    if known is not None and known.via is None and now.replace(tzinfo=None) - known.at < RESOLUTION:
        return
    with write_transaction():
        upsert(
            Contact,
            station=sender.station,
            installation=request.installation,
            at=now.replace(tzinfo=None),
            clock_offset_ms=offset,
            via=None,
        )


def reported(node: Node, sender: Binding, status: object) -> None:
    """Keep what a child reported of itself and of the stations behind it (only those below it)."""
    if isinstance(status, dict):
        with write_transaction():  # nothing is written when nothing changed: an idle round stays cheap
            _keep(sender, status)


def _keep(sender: Binding, status: dict) -> None:
    figures = {
        "version": _text(status.get("version")),
        "pending_events": _count(status.get("pending_events")),
        "oldest_unsent_s": _count(status.get("oldest_unsent_s")),
    }
    known = Contact.get_or_none(Contact.station == sender.station)
    if known is not None and any(getattr(known, name) != value for name, value in figures.items()):
        Contact.update(**figures).where(Contact.station == sender.station).execute()
    below = status.get("below")
    for entry in below if isinstance(below, list) else []:
        if not isinstance(entry, dict):
            continue
        station = Station.get_or_none(Station.code == _text(entry.get("station")))
        at = _time(entry.get("at"))
        if station is None or at is None or not above(sender.level, sender.region, station.level, station.region):
            continue
        known = Contact.get_or_none(Contact.station == station.code)
        if known is not None and known.at >= at:
            continue  # we heard from it more recently ourselves, or by another path
        upsert(
            Contact,
            station=station.code,
            installation=_text(entry.get("installation")) or "",
            at=at,
            clock_offset_ms=_count(entry.get("clock_offset_ms"), signed=True),
            version=_text(entry.get("version")),
            pending_events=_count(entry.get("pending_events")),
            oldest_unsent_s=_count(entry.get("oldest_unsent_s")),
            via=sender.station,
        )


def state(contact: Contact | None, now: dt.datetime) -> str:
    """正常, 滞后 (not heard from for an hour) or 离线 (a day): for a station that is enrolled and not revoked."""
    if contact is None:
        return "未联系"
    silent = now - contact.at
    return "离线" if silent > OFFLINE else "滞后" if silent > STALE else "正常"


def _text(value: object) -> str | None:
    return value[:64] if isinstance(value, str) else None


def _count(value: object, signed: bool = False) -> int | None:
    if type(value) is not int or (value < 0 and not signed) or abs(value) > 2**53:
        return None
    return value


def _time(value: object) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(value).astimezone(dt.UTC).replace(tzinfo=None)
    except (TypeError, ValueError, OverflowError):  # not a time, or one beyond year 9999 once in UTC
        return None
