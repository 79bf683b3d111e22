"""A city hub forwards every application of its counties to the province's 一体化政务服务平台.

The city holds each application's events (its counties relay them), so it makes each case's exchange record
(`node.hub.exchange`) and keeps, per case, the digest of the record as it is now and as the province last
accepted it (`ProvinceRecord`): a case waits in this outbox while the two differ. Sending is a POST with an
idempotency key per version of the record, so a request that reached the province but whose answer was lost
is sent again harmlessly; a failure is tried again later, with exponential backoff and jitter. A record is sent
again only when it changed. Once a day the city asks the province how many cases it holds per filing day, for
each of the last `RECONCILE_DAYS` days (a case filed offline a week ago reaches the city a week late, and a
platform restored from an old backup loses more than yesterday), and sends again the cases of every day that
comes up short. What is waiting, and since when, is on the dashboard.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
from concurrent.futures import ThreadPoolExecutor
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
RECONCILED = "province-day"  # the last Beijing day whose reconciliation ran, as a date ordinal
SCAN_LIMIT = 1000
SEND_LIMIT = 200  # records a run sends at most: the rest go at the next minute
SENDERS = 4  # requests in flight at once: the province's round trip, not the city's CPU, bounds a run
RECONCILE_AFTER = dt.time(2, 0)  # the night's late relays have arrived: the days before today are compared
RECONCILE_DAYS = 31  # filing days compared each night, yesterday and the 30 before it


class ProvinceUnavailable(DomainError):
    code = "province_unavailable"


class ProvinceClient:
    """The provincial platform's exchange API: `POST {url}/records` (one record, an `Idempotency-Key`) and
    `GET {url}/counts?day=` (how many cases it holds filed that day)."""

    def __init__(self, url: str, token: str = "", *, timeout_s: float = 10.0) -> None:
        self.url, self.timeout_s, self._token = url.rstrip("/"), timeout_s, token
        self._local = threading.local()  # a session per sending thread: requests does not promise to share one

    @property
    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            if self._token:
                session.headers["Authorization"] = f"Bearer {self._token}"
        return session

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
    """Send the waiting records that are due, `SENDERS` at a time; how many the province accepted. Each is made
    afresh from the case as it stands, so what is sent is never older than what was noted. The answers come
    back in any order; each is matched to its own request, and the outcomes are written in one transaction."""
    waiting = (
        ProvinceRecord.select()
        .where(_waiting() & (ProvinceRecord.due_ms <= now_ms))
        .order_by(ProvinceRecord.due_ms)
        .limit(SEND_LIMIT)
    )
    catalogues, made = node.reference.catalogues(), []
    for row in list(waiting):
        facts = case_facts(row.number, catalogues)
        if facts is not None:
            record = exchange.record(facts)
            made.append((row, record, exchange.digest(record)))

    def send(entry) -> ProvinceUnavailable | None:
        row, record, digest = entry
        try:
            client.send(exchange.encode(record), exchange.idempotency_key(row.number, digest))
        except ProvinceUnavailable as exc:
            return exc
        return None

    with ThreadPoolExecutor(SENDERS, thread_name_prefix="province") as pool:
        failures = list(pool.map(send, made))
    with write_transaction():
        for (row, _, digest), failure in zip(made, failures, strict=True):
            if failure is None:
                ProvinceRecord.update(
                    digest=digest, sent_digest=digest, attempts=0, waiting_since_ms=None, sent_at=_utc(now_ms)
                ).where(ProvinceRecord.number == row.number).execute()
                continue
            attempts = row.attempts + 1
            ProvinceRecord.update(attempts=attempts, due_ms=backoff_ms(now_ms, attempts, rng)).where(
                ProvinceRecord.number == row.number
            ).execute()
            log.warning("case %s not forwarded to the province (try %d): %s", row.number, attempts, failure)
    return failures.count(None)


def reconcile(client: ProvinceClient, today: dt.date, now_ms: int) -> list[dt.date]:
    """Compare, for each of the `RECONCILE_DAYS` filing days before `today`, the count the province holds
    with the cases it accepted from us; the cases of every day where it holds fewer are sent again (their
    idempotency keys make those it still has no-ops). The days sent again, oldest first."""
    days = [today - dt.timedelta(days=n) for n in range(RECONCILE_DAYS, 0, -1)]
    accepted = ProvinceRecord.sent_digest.is_null(False)
    ours = dict(
        ProvinceRecord.select(ProvinceRecord.filed_on, pw.fn.COUNT(ProvinceRecord.number))
        .where(accepted & ProvinceRecord.filed_on.between(days[0], days[-1]))
        .group_by(ProvinceRecord.filed_on)
        .tuples()
    )
    short = []
    for day in days:  # asked day by day: a province away halfway leaves the rest to the next run
        theirs = client.count(day)
        if theirs < ours.get(day, 0):
            short.append(day)
            log.warning("province holds %d cases filed %s, it accepted %d: sent again", theirs, day, ours[day])
    if short:
        with write_transaction():
            ProvinceRecord.update(sent_digest=None, due_ms=now_ms, attempts=0, waiting_since_ms=now_ms).where(
                ProvinceRecord.filed_on.in_(short) & accepted
            ).execute()
    return short


def forward(node: Context, client: ProvinceClient, now_ms: int, rng: random.Random) -> int:
    """The city's job each minute: note changes, send what is due, and once a day after 02:00 reconcile the
    days before today with the province."""
    queue_changes(node, now_ms)
    sent = send_due(node, client, now_ms, rng)
    now = dt.datetime.fromtimestamp(now_ms / 1000, CHINA)
    done = ScanCursor.get_or_none(ScanCursor.name == RECONCILED)
    if now.time() >= RECONCILE_AFTER and (done is None or done.arrival < now.date().toordinal()):
        try:
            reconcile(client, now.date(), now_ms)
        except ProvinceUnavailable as exc:
            log.warning("reconciliation with the province put off: %s", exc)
            return sent
        with write_transaction():
            upsert(ScanCursor, name=RECONCILED, arrival=now.date().toordinal())
    return sent


@dataclass(frozen=True)
class Backlog:
    waiting: int
    oldest_hours: float | None  # how long the longest-waiting record has waited; None when none waits
    oldest_number: str | None = None  # that record's case, for a person to look up
    oldest_since: dt.datetime | None = None  # Beijing time: since when it has waited


def backlog(now_ms: int) -> Backlog:
    """What waits to reach the province, and its oldest: the dashboard's gauge (read by the waiting condition
    and the oldest first, so a city with nothing waiting reads no row)."""
    count = ProvinceRecord.select().where(_waiting()).count()
    oldest = ProvinceRecord.select().where(_waiting()).order_by(ProvinceRecord.waiting_since_ms).first()
    if not count or oldest is None or oldest.waiting_since_ms is None:
        return Backlog(count, None)
    since = oldest.waiting_since_ms
    return Backlog(
        count,
        round((now_ms - since) / 3_600_000, 1),
        oldest.number,
        dt.datetime.fromtimestamp(since / 1000, CHINA),
    )


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
