"""Residents' notices at any node that holds their applications: queued from the application events it has
applied, settled by the events that say a notice went out — `notice.sent` (a county hub's SMS) or
`notice.printed` (the filing station handed it over on paper). Both events travel in the application's own
station stream, so the county learns what a station printed and the station what the county sent.

A county hub with an SMS gateway sends what it queues (`node.hub.outbox`). A node without one queues only the
applications it filed, each notice becoming printable some hours after it could first have been sent
(`node.rules.notices.print_due_ms`): a station that has heard nothing back from its hub by then prints the
notice for the resident instead, and says so upward, so the county does not send it afterwards.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

import peewee as pw

from node.cases.events import case_stream
from node.cases.intake import read_applicant
from node.context import Context
from node.errors import DomainError
from node.rules.notices import ACCEPTED, STEPS, notices_for
from provisioning.authority import CROSS_REGION
from storage.events import newest_arrival
from storage.models import Application, EventRecord, Notice, ScanCursor, upsert
from sync.errors import SyncError
from sync.event import Event, parse_event
from sync.log import APPLIED
from sync.projection import RuleViolation

SENT = "notice.sent"
PRINTED = "notice.printed"
TRIGGERS = (
    "application.accepted",
    "application.corrections_requested",
    "application.not_accepted",
    "application.deferral_lapsed",
    "application.decided",
)
CURSOR = "notices"
SCAN_LIMIT = 500  # events read per run: a node catching up after days offline does it over several minutes


def queue_new(node: Context, catalogue, now_ms: int, due_at: Callable[[int], int], *, filed_here: bool = False) -> int:
    """Queue the notices of the application events applied since the last scan, each due at `due_at(now_ms)`;
    with `filed_here`, only those of applications this station filed. Returns how many were queued. A notice
    already queued or already settled (the same event and kind) is not queued again, whatever the order."""
    cursor = ScanCursor.get_or_none(ScanCursor.name == CURSOR)
    after = cursor.arrival if cursor else Notice.select(pw.fn.MAX(Notice.arrival)).scalar() or 0
    top = newest_arrival()
    where = (EventRecord.arrival > after) & (EventRecord.arrival <= top) & EventRecord.type.in_(TRIGGERS)
    if filed_here:  # a case's events are in its case stream: this station's, or its 通办 streams
        station = node.identity.station
        where &= (EventRecord.stream == station) | EventRecord.stream.startswith(station + CROSS_REGION)
    rows = list(
        EventRecord.select(EventRecord.arrival, EventRecord.body)
        .where(where & (EventRecord.status == APPLIED))
        .order_by(EventRecord.arrival)
        .limit(SCAN_LIMIT)
        .tuples()
    )
    signature = node.config.sms_signature or node.identity.name
    queued = 0
    for arrival, body in rows:
        event = parse_event(bytes(body))
        number = event.entity.removeprefix("application:")
        row = Application.get_or_none(Application.number == number)
        if row is None or (filed_here and row.station != node.identity.station):
            continue
        try:
            name = read_applicant(number, node.identity, node.keys).name
            item = catalogue.item(row.item_code, row.item_version)
        except (SyncError, DomainError, KeyError):
            continue  # not readable here (another county's case, purged, or an item this node lacks)
        service, told = _as_told(row, item, catalogue)
        for notice in notices_for(
            event.type,
            event.payload,
            eid=event.eid,
            number=told,
            name=name,
            service=service,
            signature=signature,
            kind=item.kind,
        ):
            if notice.kind == ACCEPTED and told != number:
                continue  # a 一件事 is accepted once for the resident: its first item's acceptance says so
            created = enqueue(notice, number, arrival, due_at(now_ms))
            queued += 1 if created else 0
    last = rows[-1][0] if len(rows) == SCAN_LIMIT else max(top, after)  # all read: passed what was not wanted
    if last != after:
        upsert(ScanCursor, name=CURSOR, arrival=last)
    return queued


def _as_told(row: Application, item, catalogue) -> tuple[str, str]:
    """What a notice calls the case and which number it gives: an item of a 一件事 by the bundle's name and
    the case's number, which is the one on the resident's receipt."""
    if not row.case_number:
        return item.name, row.number
    bundle = catalogue.bundles.get(row.bundle or "")
    return f"{bundle.name if bundle else '一件事'}中的“{item.name}”", row.case_number


def enqueue(notice, number: str, arrival: int, due_ms: int) -> bool:
    """Put one notice in the outbox unless it is there (queued, sent or printed already); whether it was new.
    Asked first, since an ignored INSERT does not tell on every database."""
    if Notice.get_or_none(Notice.notice_id == notice.notice_id) is not None:
        return False
    Notice.insert(
        notice_id=notice.notice_id, number=number, kind=notice.kind, text=notice.text, arrival=arrival, due_ms=due_ms
    ).on_conflict_ignore().execute()
    return True


@dataclass(frozen=True)
class Printable:
    """A notice the resident has not heard by SMS, to print and hand over: who to, and what it says."""

    notice_id: str
    number: str
    kind: str
    text: str
    name: str
    address: str
    waiting_since: dt.datetime  # UTC: when it became printable

    @property
    def gist(self) -> str:
        """What the notice says, without the SMS's signature, greeting and the number the list shows beside it."""
        text = re.sub(r"^【[^】]*】[^，]*您好，", "", self.text)
        return text.replace(f"（办件号{self.number}）", "")


def printable(node: Context, now_ms: int, limit: int = 200) -> list[Printable]:
    """The notices of applications this station filed that are due for printing and not settled."""
    rows = _waiting(node, now_ms).order_by(Notice.due_ms, Notice.notice_id).limit(limit)
    found = []
    for notice in sorted(rows, key=lambda n: (n.number, STEPS.index(n.kind) if n.kind in STEPS else len(STEPS))):
        try:
            applicant = read_applicant(notice.number, node.identity, node.keys)
        except (SyncError, DomainError):
            continue  # purged here since: nobody to hand it to
        since = dt.datetime.fromtimestamp(notice.due_ms / 1000, dt.UTC)
        found.append(
            Printable(
                notice.notice_id, notice.number, notice.kind, notice.text, applicant.name, applicant.address, since
            )
        )
    return found


def printable_count(node: Context, now_ms: int) -> int:
    """How many notices `printable` would list: a count for the queue's reminder, without decrypting anyone."""
    return _waiting(node, now_ms).count()


def _waiting(node: Context, now_ms: int):
    """Unsettled notices due for printing, of applications this station filed."""
    return (
        Notice.select(Notice)
        .join(Application, on=(Application.number == Notice.number))
        .where(Notice.sent_at.is_null() & (Notice.due_ms <= now_ms) & (Application.station == node.identity.station))
    )


def record_printed(node: Context, notices: list[Printable], operator: str) -> None:
    """One `notice.printed` per notice, in the application's stream, in one transaction: the county sends none
    of them afterwards, and this station lists them no more."""
    with node.events.transaction():
        for notice in notices:
            station = case_stream(Application.get_by_id(notice.number))
            payload = {"notice": notice.notice_id, "number": notice.number, "kind": notice.kind, "by": operator}
            node.events.append(PRINTED, f"notice:{notice.notice_id}", payload, stream=station)


class NoticeProjection:
    """A notice settled: sent by the county's gateway (the receipt kept) or printed by the filing station. The
    row is written even if this node never queued the notice (it arrived before the step, or the county had not
    scanned yet), so a later scan finds it settled and queues nothing."""

    event_types = frozenset({SENT, PRINTED})

    def apply(self, event: Event) -> None:
        payload = event.payload
        if not isinstance(payload.get("notice"), str) or len(payload["notice"]) > 32:
            raise RuleViolation("通知记录缺少通知编号")
        number = payload.get("number")
        row = Application.get_or_none(Application.number == number) if isinstance(number, str) else None
        if event.type == PRINTED and (row is None or case_stream(row) != event.stream):
            raise RuleViolation("只有收件的站点可以记录打印了通知")  # none can silence another station's notices
        settled_at = dt.datetime.fromtimestamp((event.hlc >> 16) / 1000, dt.UTC).replace(tzinfo=None)
        status = "printed" if event.type == PRINTED else payload.get("status")
        known = Notice.get_or_none(Notice.notice_id == payload["notice"])
        upsert(
            Notice,
            notice_id=payload["notice"],
            number=known.number if known else str(number or ""),
            kind=known.kind if known else str(payload.get("kind", ""))[:16],
            text=known.text if known else "",
            arrival=known.arrival if known else 0,
            due_ms=known.due_ms if known else 0,
            attempts=known.attempts if known else 0,
            sent_at=settled_at,
            message_id=payload.get("message_id"),
            status=status,
        )

    def read_ahead(self, events) -> None:
        pass

    def reset(self, entity_name: str | None) -> None:
        query = Notice.update(sent_at=None, message_id=None, status=None)
        if entity_name is not None:
            query = query.where(Notice.notice_id == entity_name.removeprefix("notice:"))
        query.execute()
