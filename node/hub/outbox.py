"""A county hub's SMS notices to residents: queued from the application events it holds, sent through the
gateway once each (the notice id is the gateway's idempotency key), never in quiet hours, retried with
backoff; a sent notice is recorded as the county's own `notice.sent` event, so a hub restored from its
parent or a backup knows what went out. Only the county decrypts a resident's phone number, and only at
the moment of sending: it is never stored here."""

from __future__ import annotations

import datetime as dt
import logging
import random

import peewee as pw

from node.cases.intake import read_applicant
from node.context import Context
from node.errors import DomainError
from node.hub.sms import GatewayFailed, SmsGateway
from node.rules.notices import next_send_ms, notices_for, retry_at_ms
from storage.models import Application, EventRecord, Notice
from sync.errors import SyncError
from sync.event import Event, parse_event
from sync.log import APPLIED
from sync.projection import RuleViolation

log = logging.getLogger(__name__)

SENT = "notice.sent"
TRIGGERS = (
    "application.accepted",
    "application.corrections_requested",
    "application.not_accepted",
    "application.decided",
)
SCAN_LIMIT = 500  # events read per run: a county catching up after days offline does it over several minutes


def queue_new(node: Context, catalogue, now_ms: int) -> int:
    """Queue the notices of the application events applied since the last scan; returns how many. A notice
    already queued (the same event and kind) is not queued twice, whatever order or how often this runs."""
    after = Notice.select(pw.fn.MAX(Notice.arrival)).scalar() or 0
    rows = (
        EventRecord.select(EventRecord.arrival, EventRecord.body)
        .where((EventRecord.arrival > after) & EventRecord.type.in_(TRIGGERS) & (EventRecord.status == APPLIED))
        .order_by(EventRecord.arrival)
        .limit(SCAN_LIMIT)
    )
    signature = node.config.sms_signature or node.identity.name
    queued = 0
    for arrival, body in rows.tuples():
        event = parse_event(bytes(body))
        number = event.entity.removeprefix("application:")
        row = Application.get_or_none(Application.number == number)
        try:
            name = read_applicant(number, node.identity, node.keys).name
            item = catalogue.item(row.item_code, row.item_version)
        except (SyncError, DomainError, KeyError, AttributeError):
            continue  # not readable here (another county's case, purged, or an item this hub lacks)
        for notice in notices_for(
            event.type,
            event.payload,
            eid=event.eid,
            number=number,
            name=name,
            service=item.name,
            signature=signature,
            kind=item.kind,
        ):
            created = (
                Notice.insert(
                    notice_id=notice.notice_id,
                    number=number,
                    kind=notice.kind,
                    text=notice.text,
                    arrival=arrival,
                    due_ms=next_send_ms(now_ms),
                )
                .on_conflict_ignore()
                .execute()
            )
            queued += 1 if created else 0
    return queued


def send_due(node: Context, gateway: SmsGateway, now_ms: int, rng: random.Random) -> int:
    """Send every queued notice that is due, outside quiet hours; a failure is tried again later."""
    if next_send_ms(now_ms) != now_ms:
        return 0  # quiet hours: everything waits for 08:00
    sent = 0
    due = Notice.select().where(Notice.sent_at.is_null() & (Notice.due_ms <= now_ms)).order_by(Notice.due_ms)
    for notice in due:
        try:
            phone = read_applicant(notice.number, node.identity, node.keys).phone
            receipt = gateway.send(notice.notice_id, phone, notice.text)
        except (GatewayFailed, SyncError, DomainError) as exc:
            attempts = notice.attempts + 1
            Notice.update(attempts=attempts, due_ms=retry_at_ms(now_ms, attempts, rng)).where(
                Notice.notice_id == notice.notice_id
            ).execute()
            log.warning("notice %s not sent (try %d): %s", notice.notice_id, attempts, exc)
            continue
        with node.events.transaction():
            payload = {"notice": notice.notice_id, "message_id": receipt.message_id, "status": receipt.status}
            node.events.append(SENT, f"notice:{notice.notice_id}", payload, stream=node.identity.station)
        sent += 1
    return sent


class NoticeProjection:
    """`notice.sent` as the outbox row's receipt, at the county that sent it (and wherever its events go)."""

    event_types = frozenset({SENT})

    def apply(self, event: Event) -> None:
        payload = event.payload
        if not isinstance(payload.get("notice"), str):
            raise RuleViolation("通知记录缺少通知编号")
        sent_at = dt.datetime.fromtimestamp((event.hlc >> 16) / 1000, dt.UTC).replace(tzinfo=None)
        Notice.update(sent_at=sent_at, message_id=payload.get("message_id"), status=payload.get("status")).where(
            Notice.notice_id == payload["notice"]
        ).execute()

    def read_ahead(self, events) -> None:
        pass

    def reset(self, entity_name: str | None) -> None:
        query = Notice.update(sent_at=None, message_id=None, status=None)
        if entity_name is not None:
            query = query.where(Notice.notice_id == entity_name.removeprefix("notice:"))
        query.execute()
