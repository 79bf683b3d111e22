"""A city hub forwards every application of its counties to the province's 一体化政务服务平台.

The city holds each application's events (its counties relay them), so it makes each case's exchange record
(`node.hub.exchange`) and keeps, per case, the digest of the record as it is now and as the province last
accepted it (`ProvinceRecord`): a case waits in this outbox while the two differ. Sending is a POST with an
idempotency key per version of the record, so a request that reached the province but whose answer was lost
is sent again harmlessly; a failure is tried again later, with exponential backoff and jitter. A record is sent
again only when it changed. Once a day the city asks the province how many cases it holds per filing day and
sends again every case of a day that comes up short. What is waiting, and since when, is on the dashboard.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from dataclasses import dataclass

import peewee as pw
import requests

from node.cases.events import beijing_date
from node.cases.queries import applied_events, body_of, station_name
from node.catalogue.model import Catalogue
from node.context import Context
from node.errors import DomainError
from node.hub import exchange
from node.rules.backoff import backoff_ms
from provisioning.region import CHINA
from storage.database import write_transaction
from storage.models import Application, EventRecord, ProvinceRecord, ScanCursor, upsert
from sync.log import APPLIED

log = logging.getLogger(__name__)

CURSOR = "province"  # where the scan of application events stopped
RECONCILED = "province-day"  # the last day reconciled, as a date ordinal
SCAN_LIMIT = 1000
SEND_LIMIT = 200  # records a run sends at most: the rest go at the next minute
RECONCILE_AFTER = dt.time(2, 0)  # yesterday is reconciled once the night's late relays have arrived


class ProvinceUnavailable(DomainError):
    code = "province_unavailable"


class ProvinceClient:
    """The provincial platform's exchange API: `POST {url}/records` (one record, an `Idempotency-Key`) and
    `GET {url}/counts?day=` (how many cases it holds filed that day)."""

    def __init__(self, url: str, token: str = "", *, timeout_s: float = 10.0) -> None:
        self.url, self.timeout_s = url.rstrip("/"), timeout_s
        self._session = requests.Session()
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"

    def send(self, body: bytes, key: str) -> None:
        headers = {"Idempotency-Key": key, "Content-Type": "application/json; charset=utf-8"}
        self._answer(
            lambda: self._session.post(f"{self.url}/records", data=body, headers=headers, timeout=self.timeout_s)
        )

    def count(self, day: dt.date) -> int:
        answer = self._answer(
            lambda: self._session.get(f"{self.url}/counts", params={"day": day.isoformat()}, timeout=self.timeout_s)
        )
        try:
            return int(answer.json()["count"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ProvinceUnavailable("省平台的对账回答看不懂") from exc

    @staticmethod
    def _answer(call) -> requests.Response:
        try:
            answer = call()
        except requests.RequestException as exc:
            raise ProvinceUnavailable(f"省平台无法连接：{type(exc).__name__}") from exc
        if not answer.ok:
            raise ProvinceUnavailable(f"省平台拒绝：HTTP {answer.status_code}")
        return answer


def queue_changes(node: Context, now_ms: int) -> int:
    """Note the cases whose record changed since the last scan (application events applied since); how many
    now wait to be sent. A case whose record is as the province has it waits for nothing."""
    cursor = ScanCursor.get_or_none(ScanCursor.name == CURSOR)
    after = cursor.arrival if cursor else 0
    rows = (
        EventRecord.select(EventRecord.arrival, EventRecord.entity)
        .where(
            (EventRecord.arrival > after)
            & EventRecord.entity.startswith("application:")
            & (EventRecord.status == APPLIED)
        )
        .order_by(EventRecord.arrival)
        .limit(SCAN_LIMIT)
        .tuples()
    )
    touched, last = {}, after
    for arrival, entity in rows:
        touched[entity.removeprefix("application:")], last = arrival, arrival
    catalogues = node.reference.catalogues()
    queued = 0
    with write_transaction():
        for number in touched:
            facts = case_facts(number, catalogues)
            if facts is not None:
                queued += _note(number, facts.filed_on, exchange.digest(exchange.record(facts)), now_ms)
        if last != after:
            upsert(ScanCursor, name=CURSOR, arrival=last)
    return queued


def _note(number: str, filed_on: dt.date, digest: str, now_ms: int) -> int:
    held = ProvinceRecord.get_or_none(ProvinceRecord.number == number)
    if held is not None and held.digest == digest:
        return 0
    waiting = held.waiting_since_ms if held is not None and held.sent_digest != held.digest else None
    upsert(
        ProvinceRecord,
        number=number,
        filed_on=filed_on,
        digest=digest,
        sent_digest=held.sent_digest if held else None,
        attempts=0,
        due_ms=now_ms,
        waiting_since_ms=waiting or now_ms,
        sent_at=held.sent_at if held else None,
    )
    return 1


def send_due(node: Context, client: ProvinceClient, now_ms: int, rng: random.Random) -> int:
    """Send the waiting records that are due; how many the province accepted. Each is made afresh from the
    case as it stands, so what is sent is never older than what was noted."""
    waiting = (
        ProvinceRecord.select()
        .where(_waiting() & (ProvinceRecord.due_ms <= now_ms))
        .order_by(ProvinceRecord.due_ms)
        .limit(SEND_LIMIT)
    )
    catalogues, sent = node.reference.catalogues(), 0
    for row in list(waiting):
        facts = case_facts(row.number, catalogues)
        if facts is None:
            continue
        made = exchange.record(facts)
        digest = exchange.digest(made)
        try:
            client.send(exchange.encode(made), exchange.idempotency_key(row.number, digest))
        except ProvinceUnavailable as exc:
            with write_transaction():
                ProvinceRecord.update(
                    attempts=row.attempts + 1, due_ms=backoff_ms(now_ms, row.attempts + 1, rng)
                ).where(ProvinceRecord.number == row.number).execute()
            log.warning("case %s not forwarded to the province (try %d): %s", row.number, row.attempts + 1, exc)
            continue
        with write_transaction():
            ProvinceRecord.update(
                digest=digest, sent_digest=digest, attempts=0, waiting_since_ms=None, sent_at=_utc(now_ms)
            ).where(ProvinceRecord.number == row.number).execute()
        sent += 1
    return sent


def reconcile(client: ProvinceClient, day: dt.date, now_ms: int) -> tuple[int, int]:
    """Compare the day's count at the province with the cases we had it accept; if it holds fewer, send every
    case of that day again (their idempotency keys make the ones it has no-ops). (ours, theirs)."""
    forwarded = ProvinceRecord.select().where(
        (ProvinceRecord.filed_on == day) & ProvinceRecord.sent_digest.is_null(False)
    )
    ours, theirs = forwarded.count(), client.count(day)
    if theirs < ours:
        with write_transaction():
            ProvinceRecord.update(sent_digest=None, due_ms=now_ms, attempts=0, waiting_since_ms=now_ms).where(
                ProvinceRecord.filed_on == day
            ).execute()
        log.warning("province holds %d cases filed %s, we forwarded %d: all sent again", theirs, day, ours)
    return ours, theirs


def forward(node: Context, client: ProvinceClient, now_ms: int, rng: random.Random) -> int:
    """The city's job each minute: note changes, send what is due, and once a day after 02:00 reconcile yesterday."""
    queue_changes(node, now_ms)
    sent = send_due(node, client, now_ms, rng)
    now = dt.datetime.fromtimestamp(now_ms / 1000, CHINA)
    yesterday = now.date() - dt.timedelta(days=1)
    done = ScanCursor.get_or_none(ScanCursor.name == RECONCILED)
    if now.time() >= RECONCILE_AFTER and (done is None or done.arrival < yesterday.toordinal()):
        try:
            reconcile(client, yesterday, now_ms)
        except ProvinceUnavailable as exc:
            log.warning("reconciliation with the province put off: %s", exc)
            return sent
        with write_transaction():
            upsert(ScanCursor, name=RECONCILED, arrival=yesterday.toordinal())
    return sent


@dataclass(frozen=True)
class Backlog:
    waiting: int
    oldest_hours: float | None  # how long the longest-waiting record has waited; None when none waits


def backlog(now_ms: int) -> Backlog:
    """What waits to reach the province: the dashboard's gauge."""
    count, oldest = (
        ProvinceRecord.select(pw.fn.COUNT(ProvinceRecord.number), pw.fn.MIN(ProvinceRecord.waiting_since_ms))
        .where(_waiting())
        .scalar(as_tuple=True)
    )
    return Backlog(count or 0, round((now_ms - oldest) / 3_600_000, 1) if oldest else None)


def case_facts(number: str, catalogues: list[Catalogue]) -> exchange.CaseFacts | None:
    """What the city holds of one case, for its exchange record; None if it holds no such application."""
    row = Application.get_or_none(Application.number == number)
    if row is None:
        return None
    item = _item(catalogues, row.item_code, row.item_version)
    steps = tuple(
        exchange.CaseStep(e.type, beijing_date(e.hlc), body_of(e.origin), e.payload.get("approved"))
        for e in applied_events(number)
    )
    return exchange.CaseFacts(
        number=row.number,
        item_code=row.item_code,
        item_version=row.item_version,
        item_name=item.name if item else "",
        department=item.department if item else "",
        station=row.station,
        station_name=station_name(row.station),
        handler=row.handler,
        masked_name=row.masked_name or "",
        masked_id=row.masked_id,
        filed_on=row.filed_on,
        accepted_on=row.accepted_on,
        due=row.due,
        state=row.state,
        decided_on=row.decided_on,
        decision_reason=row.decision_reason,
        handling_days=row.handling_days,
        steps=steps,
    )


def _item(catalogues: list[Catalogue], code: str, version: int):
    for catalogue in catalogues:
        try:
            return catalogue.item(code, version)
        except KeyError:
            continue
    return None


def _waiting() -> pw.Expression:
    return ProvinceRecord.sent_digest.is_null() | (ProvinceRecord.sent_digest != ProvinceRecord.digest)


def _utc(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).replace(tzinfo=None)
