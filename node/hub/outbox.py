"""A county hub's SMS notices to residents (queued by `node.cases.notices`): sent through the gateway once each
(the notice id is the gateway's idempotency key), never in quiet hours, retried with backoff; a sent notice is
recorded as the county's `notice.sent` event in the application's stream, so a hub restored from its parent or
a backup knows what went out, and the filing station knows not to print it. Only the county decrypts a
resident's phone number, and only at the moment of sending: it is never stored here."""

from __future__ import annotations

import logging
import random

from node.cases.events import case_stream
from node.cases.intake import read_applicant
from node.cases.notices import SENT
from node.context import Context
from node.errors import DomainError
from node.hub.sms import GatewayFailed, SmsGateway
from node.rules.notices import STAFF, next_send_ms, retry_at_ms
from storage.models import Application, Notice, Operator
from sync.errors import SyncError

log = logging.getLogger(__name__)


def send_due(node: Context, gateway: SmsGateway, now_ms: int, rng: random.Random) -> int:
    """Send every queued notice that is due, outside quiet hours; a failure is tried again later."""
    if next_send_ms(now_ms) != now_ms:
        return 0  # quiet hours: everything waits for 08:00
    sent = 0
    due = Notice.select().where(Notice.sent_at.is_null() & (Notice.due_ms <= now_ms)).order_by(Notice.due_ms)
    for notice in due:
        try:
            phone = _phone(node, notice.number)
            if phone is None:  # a clerk disabled or without a mobile since: nobody to remind
                Notice.delete().where(Notice.notice_id == notice.notice_id).execute()
                continue
            receipt = gateway.send(notice.notice_id, phone, notice.text)
        except (GatewayFailed, SyncError, DomainError) as exc:
            attempts = notice.attempts + 1
            Notice.update(attempts=attempts, due_ms=retry_at_ms(now_ms, attempts, rng)).where(
                Notice.notice_id == notice.notice_id
            ).execute()
            log.warning("notice %s not sent (try %d): %s", notice.notice_id, attempts, exc)
            continue
        with node.events.transaction():
            payload = {
                "notice": notice.notice_id,
                "number": notice.number,
                "kind": notice.kind,
                "message_id": receipt.message_id,
                "status": receipt.status,
            }
            # In the application's stream: the filing station learns it need not print this notice.
            station = node.identity.station if notice.number.startswith(STAFF) else _station(notice.number)
            node.events.append(SENT, f"notice:{notice.notice_id}", payload, stream=station)
        sent += 1
    return sent


def _phone(node: Context, number: str) -> str | None:
    """A clerk's work mobile for a reminder (None once disabled or cleared); else the resident's, decrypted now
    and never kept."""
    if number.startswith(STAFF):
        operator = Operator.get_or_none(Operator.username == number.removeprefix(STAFF))
        return operator.phone if operator is not None and not operator.disabled else None
    return read_applicant(number, node.identity, node.keys).phone


def _station(number: str) -> str:
    return case_stream(Application.get_by_id(number))
