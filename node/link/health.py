"""Every node's health as its hubs see it: last contact, clock offset, version and release update, and what
waits to be sent.

A child reports its own figures in each pull, and a relay adds what its own children last reported to
it, so a county sees the villages behind a township too. The figures are the child's word (a relay's for
those behind it): they inform the fleet page, they decide nothing.
"""

from __future__ import annotations

import datetime as dt
import time
import weakref
from importlib import metadata

import peewee as pw

from node.context import Context
from node.releases.client import update_words
from provisioning.authority import above
from provisioning.certs import Binding
from storage.database import write_transaction
from storage.models import Contact, Station, get_row, insert_row, select_rows, upsert_many
from sync.request import SignedRequest

VERSION = metadata.version("onetrip")
STALE = dt.timedelta(hours=1)
OFFLINE = dt.timedelta(hours=24)
RESOLUTION = dt.timedelta(minutes=1)  # how fresh "last contact" needs to be on a fleet page
OFFSET_RESOLUTION_MS = 5_000  # a clock offset that moved more than this is written at once
RELAYED_LIMIT = 5_000  # a township's villages, with room to spare; a pull body stays small
Memo = dict[str, tuple[float, Contact | None]]  # station -> (when read, its contact row): kept by a hub's `Watch`


def report(node: Context, parent: str, pending_events: int, oldest_unsent_s: int | None) -> dict:
    """What a pull tells the parent: this node's figures, and those its own children reported to it since
    the parent last acknowledged them (`acknowledged`): a county has hundreds of stations behind it, and
    sending them all in every pull made the city read and write each, every round. A process that restarted
    sends them all once."""
    told = _told(node, parent)
    reports = (
        {
            "station": c.station,
            "installation": c.installation,
            "at": c.at.replace(tzinfo=dt.UTC).isoformat(),
            "clock_offset_ms": c.clock_offset_ms,
            "version": c.version,
            "pending_events": c.pending_events,
            "oldest_unsent_s": c.oldest_unsent_s,
            "update": c.update_state,
        }
        for c in select_rows(Contact, f"ORDER BY at DESC LIMIT {RELAYED_LIMIT}")
    )
    below = [entry for entry in reports if told.get(entry["station"]) != _said(entry)]
    mine = {"version": VERSION, "pending_events": pending_events, "oldest_unsent_s": oldest_unsent_s}
    return mine | {"update": update_words(node.config.data_dir), "below": below}


def acknowledged(node: Context, parent: str, status: dict) -> dict:
    """The parent answered a pull carrying `status`: what it said of the stations below is not said again.
    The status for the round's next pulls, with nothing below."""
    told = _told(node, parent)
    told.update((entry["station"], _said(entry)) for entry in status["below"])
    return status | {"below": []}


def _said(entry: dict) -> tuple:
    return tuple(entry[name] for name in ("at", "pending_events", "oldest_unsent_s", "version", "update"))


# per served log (one per process and node), per parent: each station's report as the parent last acknowledged it
_acknowledged: weakref.WeakKeyDictionary[object, dict[str, dict[str, tuple]]] = weakref.WeakKeyDictionary()


def _told(node: Context, parent: str) -> dict[str, tuple]:
    return _acknowledged.setdefault(node.events, {}).setdefault(parent, {})


def contacted(
    node: Context, sender: Binding, request: SignedRequest, *, own_time: bool = True, memo: Memo | None = None
) -> None:
    """An authenticated request arrived: when, and how far the sender's clock is from ours. Only a request
    signed with its own time (`own_time`) measures that: a retry after a clock skew carries our time, and
    the offset its first request showed stays. Written at most once a minute per station unless the
    offset moved, so that an idle round costs the hub no extra commit (nor, with a `memo`, a read)."""
    now = node.now()
    offset = request.time_ms - int(now.timestamp() * 1000) if own_time else None
    known = _known(sender.station, memo)
    if known is not None and known.via is None and known.installation == request.installation:
        recent = now.replace(tzinfo=None) - known.at < RESOLUTION
        if recent and (offset is None or not offset_moved(known.clock_offset_ms, offset)):
            return
        if offset is None:
            offset = known.clock_offset_ms
    row = {
        "station": sender.station,
        "installation": request.installation,
        "at": now.replace(tzinfo=None),
        "clock_offset_ms": offset,
        "via": None,
    }
    with write_transaction(log=False):  # one upsert: no batch's lock to wait for
        insert_row(Contact, row, replace_on=("station",))
    if memo is not None:
        memo.pop(sender.station, None)  # the figures a pull reported are in the row, not here: read it again


def _known(station: str, memo: Memo | None) -> Contact | None:
    """The station's contact row, as read at most `RESOLUTION` ago when a memo is kept (several hub
    processes each keep their own: what another wrote is seen within that time)."""
    kept = memo.get(station) if memo is not None else None
    if kept is not None and time.monotonic() - kept[0] < RESOLUTION.total_seconds():
        return kept[1]
    known = get_row(Contact, station)
    if memo is not None:
        memo[station] = (time.monotonic(), known)
    return known


def offset_moved(before_ms: int | None, after_ms: int | None) -> bool:
    """Whether a clock offset changed enough to be written (None: not measured, or within the window)."""
    if before_ms is None or after_ms is None:
        return before_ms != after_ms
    return abs(after_ms - before_ms) >= OFFSET_RESOLUTION_MS


def reported(node: Context, sender: Binding, status: object, memo: Memo | None = None) -> None:
    """Keep what a child reported of itself and of the stations behind it (only those below it). Nothing
    is written, nor a transaction opened, when nothing changed: an idle round stays cheap."""
    if not isinstance(status, dict):
        return
    figures = {
        "version": _text(status.get("version")),
        "pending_events": _count(status.get("pending_events")),
        "oldest_unsent_s": _count(status.get("oldest_unsent_s")),
        "update_state": _text(status.get("update")),
    }
    known = _known(sender.station, memo)
    changed = known is not None and any(getattr(known, name) != value for name, value in figures.items())
    below = status.get("below")
    relayed = _relayed(sender, below) if isinstance(below, list) and below else []  # a village relays none
    if not changed and not relayed:
        return
    with write_transaction(log=False):  # an update and an upsert that keeps the newer row
        if changed:
            Contact.update(**figures).where(Contact.station == sender.station).execute()
        upsert_many(Contact, relayed, only_if=Contact.at < pw.EXCLUDED.at)  # another process may have heard newer
    if memo is not None:
        memo.pop(sender.station, None)


def _relayed(sender: Binding, below: list) -> list[dict]:
    """The contact rows to write of what a relay reported: stations below it, heard from later than we last
    heard of them. Read before any write transaction, a few queries for the whole list: a county reports
    its hundreds of stations in each pull, and a row each, under the writers' lock, was a quarter of a
    city's CPU in a storm (py-spy)."""
    newest: dict[str, tuple[dict, dt.datetime]] = {}
    for entry in below:
        code, at = (_text(entry.get("station")), _time(entry.get("at"))) if isinstance(entry, dict) else (None, None)
        if code is not None and at is not None and (code not in newest or newest[code][1] < at):
            newest[code] = (entry, at)
    codes = list(newest)
    places = dict(_in_chunks(Station.select(Station.code, Station.level, Station.region), Station.code, codes))
    heard = dict(_in_chunks(Contact.select(Contact.station, Contact.at), Contact.station, codes))
    return [
        {
            "station": code,
            "installation": _text(entry.get("installation")) or "",
            "at": at,
            "clock_offset_ms": _count(entry.get("clock_offset_ms"), signed=True),
            "version": _text(entry.get("version")),
            "pending_events": _count(entry.get("pending_events")),
            "oldest_unsent_s": _count(entry.get("oldest_unsent_s")),
            "update_state": _text(entry.get("update")),
            "via": sender.station,
        }
        for code, (entry, at) in newest.items()
        if code in places
        and above(sender.level, sender.region, *places[code])
        and not (code in heard and heard[code] >= at)  # we heard from it more recently, or by another path
    ]


def _in_chunks(query: pw.Select, key: pw.Field, values: list[str], chunk: int = 500) -> list[tuple]:
    """(key, …) rows of `query` whose key is one of `values`, a bounded IN list at a time."""
    rows = []
    for start in range(0, len(values), chunk):
        for code, *rest in query.where(key.in_(values[start : start + chunk])).tuples():
            rows.append((code, rest[0] if len(rest) == 1 else tuple(rest)))
    return rows


def state(contact: Contact | None, now: dt.datetime, max_clock_drift_s: int) -> str:
    """正常, 时钟不准 (its clock is off by more than the drift allowed), 滞后 (not heard from for an hour) or
    离线 (a day): for a station that is enrolled and not revoked."""
    if contact is None:
        return "未联系"
    silent = now - contact.at
    if silent > OFFLINE:
        return "离线"
    if silent > STALE:
        return "滞后"
    return "时钟不准" if clock_wrong(contact.clock_offset_ms, max_clock_drift_s) else "正常"


def clock_wrong(offset_ms: int | None, max_clock_drift_s: int) -> bool:
    return offset_ms is not None and abs(offset_ms) > max_clock_drift_s * 1000


def offset_words(offset_ms: int) -> str:
    """A clock offset (theirs minus ours) as a person says it: 快 3 天, 慢 365 天, 快 12 分钟, 0 秒."""
    seconds = round(abs(offset_ms) / 1000)
    for unit_s, unit in ((86_400, "天"), (3_600, "小时"), (60, "分钟"), (1, "秒")):
        if seconds >= 2 * unit_s or unit_s == 1:
            amount = f"{round(seconds / unit_s)} {unit}"
            break
    if seconds == 0:
        return amount
    return ("快 " if offset_ms > 0 else "慢 ") + amount


def clock_warning(max_clock_drift_s: int) -> str | None:
    """For a hub's admins: the stations below whose clock was last seen off by more than the drift allowed."""
    window_ms = max_clock_drift_s * 1000
    wrong = (
        Contact.select(Station.name, Contact.clock_offset_ms)
        .join(Station, on=Station.code == Contact.station)
        .where((Contact.clock_offset_ms > window_ms) | (Contact.clock_offset_ms < -window_ms))
        .order_by(Contact.station)
        .tuples()
    )
    named = [f"{name}（{offset_words(offset_ms)}）" for name, offset_ms in wrong]
    if not named:
        return None
    return (
        f"{len(named)} 个站点的电脑时钟与本机相差超过 {max_clock_drift_s // 60} 分钟：{'、'.join(named[:20])}"
        f"{' 等' if len(named) > 20 else ''}。时间不准会使办件日期和期限出错，请通知站点校准电脑时间"
    )


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
