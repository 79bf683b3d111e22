"""Applications (办件) as events: intake on a resident's behalf, each transition, and their projection.

Every change is an event in the application's station stream, naming what its author had seen
(`deps`, filled in by the log); the row is the replay of those events through `node.rules.workflow`.
The resident's name, ID number, phone and address are encrypted inside the event under a data
key of this application, wrapped to this station (kept locally) and to the county that certified
it (inside the event): a copied database or a relayed batch reveals nobody.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import peewee as pw
from cryptography.hazmat.primitives.asymmetric import ec

from node.catalogue.model import Catalogue, ServiceItem
from node.errors import DomainError
from node.rules import tally
from node.rules.deadlines import add_working_days, status, working_days_between
from node.rules.holidays import HolidayTable
from node.rules.identifiers import (
    id_number_problem,
    mask_id_number,
    normalise_id_number,
    normalise_phone,
    phone_problem,
)
from node.rules.materials import scan_problem, sniff
from node.rules.workflow import EVENT_NAMES, TRANSITIONS, IllegalTransition, Outcome, level_problem, next_state
from node.statistics import add_counts
from node.visibility import Viewer, visible
from provisioning.authority import DECIDING
from provisioning.identity import Identity, Keys
from provisioning.trust import issuer_recipients
from storage.blobs import BlobStore
from storage.database import write_transaction
from storage.models import (
    Application,
    Attachment,
    DataKey,
    DeadlineMark,
    EventRecord,
    Statistic,
    forget_rows,
    get_row,
    insert_row,
    read_rows,
    update_row,
    upsert,
)
from sync.datakeys import keep_data_key, load_data_key
from sync.event import Event, parse_event
from sync.fields import (
    decrypt_bytes,
    decrypt_field,
    encrypt_bytes,
    encrypt_field,
    lookup_hash,
    new_data_key,
    wrap_data_key,
)
from sync.hlc import unpack
from sync.log import APPLIED, EventLog
from sync.order import causal_order
from sync.projection import RuleViolation

CHINA = dt.timezone(dt.timedelta(hours=8))  # dates of acceptance and deadlines are Beijing dates
RUNNING = ("accepted", "in_review")  # the states in which a deadline's clock runs
MARK_HORIZON_DAYS = 21  # due further off than this cannot be 3 working days away, even across the Spring Festival
TOKEN = re.compile(r"[0-9a-f]{32}")  # a request token as `new_request_token` makes it
NOTE_LIMIT = 500  # a reason or a comment
LIMITS = {"name": 50, "id_number": 30, "phone": 30, "address": 200}  # characters; events are replicated everywhere
FILED = "application.filed"
ATTACHED = "material.attached"
CONFLICT_SETTLED = "application.conflict_settled"
CONFLICT = "冲突："  # how a held-back transition's reason starts: `node.conflicts` lists them
STEP_NAMES = {
    **EVENT_NAMES,
    ATTACHED: "上传材料扫描件",
    CONFLICT_SETTLED: "处理冲突",
}  # what a timeline calls each event
PERSONAL_FIELDS = ("name", "id_number", "phone", "address")


class IntakeRefused(DomainError):
    """The application cannot be filed as given; `problems` lists every field to fix, in Chinese."""

    code = "intake_refused"

    def __init__(self, problems: list[str]):
        super().__init__("；".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Applicant:
    name: str
    id_number: str
    phone: str
    address: str


def entity(number: str) -> str:
    return f"application:{number}"


def intake_problems(catalogue: Catalogue, item_code: str, applicant: Applicant, consent: bool, today: dt.date):
    """Everything wrong with an intake, at once, before anything is written."""
    problems = []
    try:
        item = catalogue.item(item_code)
    except KeyError:
        item = None
        problems.append(f"事项 {item_code} 不在本站的事项清单中")
    if item is not None and not item.proxy_allowed:
        problems.append(f"“{item.name}”须本人到窗口办理，不能代办")
    if not applicant.name.strip():
        problems.append("申请人姓名不能为空")
    for problem in (id_number_problem(applicant.id_number, today), phone_problem(applicant.phone)):
        if problem:
            problems.append(problem)
    if not applicant.address.strip():
        problems.append("住址不能为空")
    for field, label in (("name", "姓名"), ("address", "住址"), ("phone", "电话"), ("id_number", "身份证号")):
        if len(getattr(applicant, field)) > LIMITS[field]:
            problems.append(f"{label}不能超过 {LIMITS[field]} 个字")
    if not consent:
        problems.append("代办须记录申请人的同意")
    return item, problems


def file_application(
    events: EventLog,
    identity: Identity,
    keys: Keys,
    catalogue: Catalogue,
    recipients: dict[str, ec.EllipticCurvePublicKey],
    *,
    item_code: str,
    applicant: Applicant,
    consent: bool,
    operator: str,
    request_token: str,
    now: dt.datetime,
    bundle: str | None = None,
) -> str:
    """File an application for a resident; a retried submit (same `request_token`) returns the first number."""
    if not TOKEN.fullmatch(request_token or ""):
        raise IntakeRefused(["表单已失效，请重新打开“代办”页面后填写"])
    today = now.astimezone(CHINA).date()
    item, problems = intake_problems(catalogue, item_code, applicant, consent, today)
    if problems:
        raise IntakeRefused(problems)
    with events.transaction():  # the check and the write in one transaction: a double click files once
        existing = (
            Application.select(Application.number)
            .where((Application.station == identity.station) & (Application.request_token == request_token))
            .scalar()
        )
        if existing is not None:
            return existing
        hlc = events.clock.now()  # one reading for the number's date and the event's (`filed_on`)
        number = _next_number(identity, _beijing_date(hlc))
        data_key = new_data_key()
        payload = filed_payload(
            identity.station,
            number,
            item,
            applicant,
            data_key,
            recipients,
            keys.lookup,
            operator=operator,
            request_token=request_token,
            bundle=bundle,
        )
        events.append(FILED, entity(number), payload, stream=identity.station, hlc=hlc)
        keep_data_key(entity(number), identity.installation, data_key, keys.agreement.public_key())
    return number


def filed_payload(
    station: str,
    number: str,
    item: ServiceItem,
    applicant: Applicant,
    data_key: bytes,
    recipients: dict[str, ec.EllipticCurvePublicKey],
    lookup_key: bytes,
    *,
    operator: str,
    request_token: str,
    bundle: str | None = None,
) -> dict:
    """What an `application.filed` event carries: the resident's fields sealed under the data key, that key
    wrapped to each recipient, keyed hashes for search. Pure, so that a simulated station files the very
    payload a real one does."""
    fields = _clear_fields(applicant)
    return {
        "number": number,
        "station": station,
        "item": {"code": item.code, "version": item.version},
        "bundle": bundle,
        "sealed": {name: encrypt_field(data_key, entity(number), name, fields[name]) for name in PERSONAL_FIELDS},
        "keys": {
            installation: base64.b64encode(wrap_data_key(data_key, public, entity(number))).decode("ascii")
            for installation, public in recipients.items()
        },
        "lookups": {
            "id_number": lookup_hash(lookup_key, "id_number", fields["id_number"]),
            "name": lookup_hash(lookup_key, "name", fields["name"]),
        },
        "masked_id": mask_id_number(fields["id_number"]),
        "consent": {"recorded_by": operator},
        "request_token": request_token,
        "operator": operator,
    }


def file_bundle(
    events: EventLog,
    identity: Identity,
    keys: Keys,
    catalogue: Catalogue,
    recipients: dict[str, ec.EllipticCurvePublicKey],
    *,
    bundle_code: str,
    applicant: Applicant,
    consent: bool,
    operator: str,
    request_token: str,
    now: dt.datetime,
) -> list[str]:
    """一件事: one application per item of the bundle, filed together (all or none) and marked with the
    bundle, so the resident hands over each shared material once and the departments see them as one."""
    bundle = catalogue.bundles.get(bundle_code)
    if bundle is None:
        raise IntakeRefused([f"一件事 {bundle_code} 不在本站的事项清单中"])
    if not TOKEN.fullmatch(request_token or ""):
        raise IntakeRefused(["表单已失效，请重新打开“代办”页面后填写"])
    problems = []
    for code in bundle.item_codes:
        problems += [
            p
            for p in intake_problems(catalogue, code, applicant, consent, now.astimezone(CHINA).date())[1]
            if p not in problems
        ]
    if problems:
        raise IntakeRefused(problems)
    with events.transaction():
        return [
            file_application(
                events,
                identity,
                keys,
                catalogue,
                recipients,
                item_code=code,
                applicant=applicant,
                consent=consent,
                operator=operator,
                now=now,
                bundle=bundle.code,
                request_token=hashlib.sha256(f"{request_token}/{code}".encode()).hexdigest()[:32],
            )
            for code in bundle.item_codes
        ]


def file_for_resident(node, catalogue: Catalogue, *, item_code: str = "", bundle_code: str = "", **intake) -> list[str]:
    """What the workbench and the API both do: file one item, or a 一件事 bundle, for a resident;
    the data key is kept here and wrapped to the levels that handle the case (its township and county),
    never to the city."""
    args = (node.events, node.identity, node.keys, catalogue, issuer_recipients(node.identity))
    if bundle_code:
        return file_bundle(*args, bundle_code=bundle_code, **intake)
    return [file_application(*args, item_code=item_code, **intake)]


def _clear_fields(applicant: Applicant) -> dict[str, str]:
    return {
        "name": applicant.name.strip(),
        "id_number": normalise_id_number(applicant.id_number),
        "phone": normalise_phone(applicant.phone),
        "address": applicant.address.strip(),
    }


def _next_number(identity: Identity, today: dt.date) -> str:
    """办件编号: station code, date, this installation's short id and a counter. The station code makes
    it unique across the province, the installation id keeps a replaced PC from reusing a number.
    The last number of the day is found by a range on the primary key, not a scan."""
    prefix = f"{identity.station}-{today:%Y%m%d}-{identity.installation[2:6].upper()}"
    last = (
        Application.select(Application.number)
        .where((Application.number > prefix) & (Application.number < prefix + "~"))
        .order_by(Application.number.desc())
        .scalar()
    )
    return f"{prefix}{int(last[len(prefix) :]) + 1 if last else 1:05d}"  # fixed width keeps the order


def new_request_token() -> str:
    """Put in the intake form when it is shown, so a double click or a retry files once."""
    return secrets.token_hex(16)


def transition(events: EventLog, number: str, event_type: str, payload: dict) -> None:
    """Record one step of an application; refused in plain words, nothing written, if its state does not
    allow it or (the projection's rule, `workflow.level_problem`) the catalogue gives it to a higher level."""
    row = Application.get_or_none(Application.number == number)
    if row is None:
        raise IntakeRefused([f"没有办件 {number}"])
    too_long = [k for k in ("reason", "comment") if len(str(payload.get(k, ""))) > NOTE_LIMIT]
    if too_long:
        raise IntakeRefused([f"说明不能超过 {NOTE_LIMIT} 个字"])
    _next_state(row.state, event_type, payload)  # a clear refusal before anything is written
    events.append(event_type, entity(number), payload, stream=row.station)


def read_applicant(number: str, identity: Identity, keys: Keys) -> Applicant:
    """Decrypt the resident's fields with this station's key: unreadable once purged here."""
    row = Application.get_by_id(number)
    data_key = load_data_key(entity(number), identity.installation, keys.agreement)
    sealed = json.loads(row.sealed)
    return Applicant(*(decrypt_field(data_key, entity(number), name, sealed[name]) for name in PERSONAL_FIELDS))


def attach_scan(
    events: EventLog,
    identity: Identity,
    keys: Keys,
    blobs: BlobStore,
    number: str,
    material: str,
    data: bytes,
    operator: str,
) -> str:
    """Keep a material's scan, encrypted under the application's key; the event names the ciphertext's hash."""
    row = Application.get_or_none(Application.number == number)
    if row is None:
        raise IntakeRefused([f"没有办件 {number}"])
    if problem := scan_problem(data):
        raise IntakeRefused([problem])
    data_key = load_data_key(entity(number), identity.installation, keys.agreement)
    digest = blobs.put(encrypt_bytes(data_key, entity(number), material, data))
    try:
        events.append(
            ATTACHED,
            entity(number),
            {
                "number": number,
                "material": material,
                "blob": digest,
                "content_type": sniff(data),
                "size": len(data),
                "by": operator,
            },
            stream=row.station,
        )
    except BaseException:
        blobs.delete(digest)  # a fresh ciphertext (a new nonce): no other attachment can name it
        raise
    return digest


def read_scan(identity: Identity, keys: Keys, blobs: BlobStore, number: str, digest: str) -> tuple[str, bytes]:
    """The scan's content type and bytes, decrypted with this station's key."""
    attachment = Attachment.get_by_id((number, digest))
    data_key = load_data_key(entity(number), identity.installation, keys.agreement)
    return attachment.content_type, decrypt_bytes(data_key, entity(number), attachment.material, blobs.get(digest))


@dataclass(frozen=True)
class Step:
    """One line of an application's timeline: what happened, when (Beijing time) and by whom."""

    event_type: str
    at: dt.datetime
    by: str
    note: str
    approved: bool | None = None  # a decision's outcome


def timeline(number: str) -> list[Step]:
    """The application's events in causal order, as a person reads them."""
    rows = EventRecord.select(EventRecord.body).where(
        (EventRecord.entity == entity(number)) & (EventRecord.status == APPLIED)
    )
    events = causal_order(parse_event(bytes(body)) for (body,) in rows.tuples())
    return [
        Step(
            e.type,
            dt.datetime.fromtimestamp((e.hlc >> 16) / 1000, CHINA),
            e.payload.get("operator") or e.payload.get("by", ""),
            e.payload.get("reason") or e.payload.get("comment") or e.payload.get("note", ""),
            e.payload.get("approved"),
        )
        for e in events
    ]


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
) -> Page:
    """The applications `viewer` may see, newest first, by keyset: a page after a cursor costs the same at
    the 50,000th application as at the first, where an OFFSET walks every row before it.

    The query is an ID number (found by its keyed hash), the start of an application number, or a name
    (by its keyed hash): nothing is decrypted to search. `due` keeps those marked due_soon or overdue."""
    found = Application.select().where(visible(viewer, walked=True))  # the page walks the order's index
    counted = Application.select().where(visible(viewer))
    if condition := _matching(query.strip(), lookup_key):
        found, counted = found.where(condition), counted.where(condition)
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


def mark_deadlines(today: dt.date, holidays: HolidayTable) -> dict[str, int]:
    """The scheduler's job: mark each running application due soon or overdue (or neither), so that lists
    colour and count them by a lookup. A mark keeps the day it first stood; the counts per status."""
    horizon = today + dt.timedelta(days=MARK_HORIZON_DAYS)
    running = Application.select(Application.number, Application.due).where(
        Application.state.in_(RUNNING) & (Application.due <= horizon)
    )
    wanted = {row.number: status(row.due, today, holidays) for row in running}
    wanted = {number: mark for number, mark in wanted.items() if mark != "on_time"}
    # The writer lock from the start: a deferred transaction that reads first and writes later cannot wait
    # for a push's commit (SQLite refuses the upgrade at once, "database is locked", whatever busy_timeout).
    with write_transaction():
        known = {m.number: m for m in DeadlineMark.select()}
        DeadlineMark.delete().where(DeadlineMark.number.not_in(list(wanted) or [""])).execute()
        for number, mark in wanted.items():
            if number not in known or known[number].status != mark:
                upsert(DeadlineMark, number=number, status=mark, since=today)
    return {mark: sum(1 for m in wanted.values() if m == mark) for mark in ("due_soon", "overdue")}


def deadline_counts(viewer: Viewer) -> dict[str, int]:
    """How many running applications `viewer` sees are marked due soon and overdue, for the queue's filters."""
    counts = (
        DeadlineMark.select(DeadlineMark.status, pw.fn.COUNT(DeadlineMark.number))
        .join(Application, on=(Application.number == DeadlineMark.number))
        .where(Application.state.in_(RUNNING) & visible(viewer))
        .group_by(DeadlineMark.status)
    )
    return {"due_soon": 0, "overdue": 0, **dict(counts.tuples())}


def deadline_marks(rows: list[Application]) -> dict[str, str]:
    """For a list: "overdue", "due_soon" or "" per application, as last marked, while its clock runs."""
    numbers = [row.number for row in rows if row.state in RUNNING]
    marks = DeadlineMark.select(DeadlineMark.number, DeadlineMark.status).where(DeadlineMark.number.in_(numbers))
    marks = dict(marks.tuples())
    return {row.number: marks.get(row.number, "") for row in rows}


class ApplicationProjection:
    """Applies application events through the state machine; the deadline is counted at acceptance."""

    def __init__(
        self,
        catalogue: Callable[[], Catalogue],
        holidays: Callable[[], HolidayTable],
        installation: str,
        *,
        deciding_level: Callable[[str, int, str], str | None],
        signer_level: Callable[[str], str],
    ):
        self.catalogue = catalogue
        self.holidays = holidays
        self.installation = installation  # a data key wrapped to us in the event is kept, so we can read
        self.deciding_level = deciding_level  # (item code, version, station) -> the catalogue's 决定层级
        self.signer_level = signer_level  # origin -> the level its certificate binds

    event_types = frozenset(TRANSITIONS) | {ATTACHED, CONFLICT_SETTLED}

    def apply(self, event: Event) -> None:
        payload = event.payload
        if event.type == FILED:
            return self._filed(event, payload)
        if event.type == ATTACHED:
            return self._attached(event, payload)
        row = get_row(Application, event.entity.removeprefix("application:"))
        if row is None:
            raise RuleViolation(f"办件 {event.entity} 尚未建立")
        if event.stream != row.station:  # trust lets only the station and the levels above it write there
            raise RuleViolation(f"办件 {row.number} 的事件只能记在站点 {row.station} 的事件流中")
        if event.type in DECIDING:  # a certificate's authority covers the step, the catalogue says on which items
            level = self.deciding_level(row.item_code, row.item_version, row.station)
            if problem := level_problem(event.type, level, self.signer_level(event.origin)):
                raise RuleViolation(problem)
        if event.type == CONFLICT_SETTLED:
            return  # a clerk's note on a conflict: the state stays what the deterministic order made it
        day = _beijing_date(event.hlc)
        try:
            row.state = _next_state(row.state, event.type, payload)
        except IllegalTransition as exc:  # two levels acted at once: the later in causal order is held back
            raise RuleViolation(CONFLICT + str(exc)) from exc
        if event.type == "application.accepted":
            row.accepted_on = day
            self.count_deadline(row)
        elif event.type == "application.suspended":
            row.paused_since = day
        elif event.type == "application.resumed":
            if day > row.paused_since:  # the days the procedure took: from its first day to the day before resuming
                last = day - dt.timedelta(days=1)
                row.pauses = json.dumps(json.loads(row.pauses) + [[row.paused_since.isoformat(), last.isoformat()]])
            row.paused_since = None
            self.count_deadline(row)
        elif event.type == "application.decided":
            row.decision_reason = payload.get("reason") or None
            row.decided_on = day
            row.handling_days = working_days_between(row.accepted_on, day, self.holidays(), _pauses(row))
        elif event.type == "application.delivered":
            row.delivered_on = day
        elif event.type == "application.rated":
            if not 1 <= int(payload["stars"]) <= 5:
                raise RuleViolation("评价须为 1–5 星")
            row.rating, row.rating_comment = int(payload["stars"]), payload.get("comment") or None
            row.rated_on = day
        row.tally = _recount(row.tally, row)
        update_row(row)

    def read_ahead(self, events: list[Event]) -> None:
        """The rows a run's transitions and scans change, in a few queries (a filing's row is not there yet);
        each is then written once, however many of the run's events change it (`deferred_inserts`)."""
        read_rows(Application, {e.entity.removeprefix("application:") for e in events if e.type != FILED})

    def _filed(self, event: Event, payload: dict) -> None:
        if payload["station"] != event.stream or not payload["number"].startswith(payload["station"] + "-"):
            raise RuleViolation("办件只能在本站点的事件流中、以本站点编码为号建立")
        row = {
            "number": payload["number"],
            "station": payload["station"],
            "item_code": payload["item"]["code"],
            "item_version": payload["item"]["version"],
            "bundle": payload.get("bundle"),
            "state": next_state(None, FILED),
            "sealed": json.dumps(payload["sealed"], ensure_ascii=False, sort_keys=True),
            "id_lookup": payload["lookups"]["id_number"],
            "name_lookup": payload["lookups"]["name"],
            "masked_id": payload["masked_id"],
            "request_token": payload["request_token"],
            "filed_by": payload["operator"],
            "filed_on": _beijing_date(event.hlc),
            "pauses": "[]",
            "due_provisional": False,
        }
        counts = tally.tally(tally.Facts(row["station"], row["item_code"], row["bundle"], row["filed_on"]))
        row["tally"] = tally.encode(counts)
        try:  # the number and (station, request token) are unique: one insert checks both
            insert_row(Application, row)
        except pw.IntegrityError as exc:
            raise RuleViolation(f"办件 {payload['number']} 已存在（同一编号或同一次提交）") from exc
        add_counts(counts)
        if wrapped := payload["keys"].get(self.installation):
            insert_row(
                DataKey,
                {
                    "entity": entity(payload["number"]),
                    "recipient": self.installation,
                    "wrapped": base64.b64decode(wrapped),
                },
                replace_on=("entity", "recipient"),
            )

    def _attached(self, event: Event, payload: dict) -> None:
        row = get_row(Application, payload["number"])
        if row is None:
            raise RuleViolation(f"办件 {payload['number']} 尚未建立")
        if event.stream != row.station or event.entity != entity(row.number):  # owned, like every transition
            raise RuleViolation(f"办件 {row.number} 的材料只能记在站点 {row.station} 的事件流中")
        Attachment.insert(
            number=payload["number"],
            material=payload["material"],
            blob=payload["blob"],
            content_type=payload["content_type"],
            size=payload["size"],
            by=payload["by"],
        ).on_conflict_ignore().execute()

    def count_deadline(self, row: Application) -> None:
        """The promised deadline from the day of acceptance, skipping special procedures' days. Without the
        item's version in this node's catalogue (it has not arrived yet) there is no due date until it does."""
        try:
            limit = self.catalogue().item(row.item_code, row.item_version).promised_limit
        except KeyError:
            row.due, row.due_provisional = None, False
            return
        deadline = add_working_days(row.accepted_on, limit.days, self.holidays(), limit.unit, _pauses(row))
        row.due, row.due_provisional = deadline.due, deadline.provisional

    def reset(self, entity_name: str | None) -> None:
        """Before a replay of one application, take back what it added to the statistics; before a
        rebuild, drop them all (the replay counts everything again). What a run holds back is written first,
        so that the rows read and deleted here are the rows as they stand."""
        forget_rows()
        if entity_name is None:
            Statistic.delete().execute()
        else:
            number = entity_name.removeprefix("application:")
            counted = Application.select(Application.tally).where(Application.number == number).scalar()
            add_counts(tally.difference({}, tally.decode(counted)))
        for model in (Attachment, Application):
            query = model.delete()
            if entity_name is not None:
                query = query.where(model.number == entity_name.removeprefix("application:"))
            query.execute()


def _pauses(row: Application) -> list[tuple[dt.date, dt.date]]:
    return [(dt.date.fromisoformat(first), dt.date.fromisoformat(last)) for first, last in json.loads(row.pauses)]


def _recount(counted: str, row: Application) -> str:
    """Add to the statistics what changed in this application's contribution; its new contribution."""
    facts = tally.Facts(
        row.station,
        row.item_code,
        row.bundle,
        row.filed_on,
        row.accepted_on,
        row.decided_on,
        row.due,
        row.handling_days,
        row.rated_on,
        row.rating,
    )
    counts = tally.tally(facts)
    add_counts(tally.difference(counts, tally.decode(counted)))
    return tally.encode(counts)


def _next_state(state: str | None, event_type: str, payload: dict) -> str:
    outcome = Outcome(bool(payload["approved"]), payload.get("reason", "")) if "approved" in payload else None
    return next_state(state, event_type, outcome, payload.get("procedure", ""))


def _beijing_date(hlc: int) -> dt.date:
    """The Beijing day of an HLC timestamp: an event's day everywhere it is replayed."""
    return dt.datetime.fromtimestamp(unpack(hlc)[0] / 1000, CHINA).date()
