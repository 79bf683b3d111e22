"""Applications (办件) as events: intake on a resident's behalf, each transition, and the material scans.

Every change is an event in the application's station stream, naming what its author had seen
(`deps`, filled in by the log); the row is the replay of those events (`node.cases.projection`).
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
from dataclasses import dataclass

import peewee as pw
from cryptography.hazmat.primitives.asymmetric import ec

from node.cases.events import (
    ATTACHED,
    FILED,
    LICENCE,
    beijing_date,
    case_stream,
    entity,
    licence_title,
    next_state_after,
    result_title,
)
from node.catalogue.model import Catalogue, ServiceItem
from node.errors import DomainError
from node.rules import querycode
from node.rules.eligibility import facts, unmet
from node.rules.identifiers import (
    id_number_problem,
    mask_id_number,
    mask_name,
    normalise_id_number,
    normalise_phone,
    phone_problem,
)
from node.rules.materials import scan_problem, sniff
from node.rules.workflow import DECIDED, DENIED, NOT_ACCEPTED, ON_AUTHORITY, WITHDRAWN, corrections_problems
from provisioning.authority import BY_THE_RESIDENT, cross_region_stream
from provisioning.identity import Identity, Keys
from provisioning.recipients import county_recipients, issuer_recipients
from provisioning.region import CHINA
from storage.blobs import BlobStore
from storage.models import (
    Application,
    Attachment,
)
from sync.datakeys import keep_data_key, load_data_key
from sync.fields import (
    decrypt_bytes,
    decrypt_field,
    encrypt_bytes,
    encrypt_field,
    lookup_hash,
    new_data_key,
    wrap_data_key,
)
from sync.log import EventLog

TOKEN = re.compile(r"[0-9a-f]{32}")  # a request token as `new_request_token` makes it


NOTE_LIMIT = 500  # a reason or a comment


LIMITS = {"name": 50, "id_number": 30, "phone": 30, "address": 200}  # characters; events are replicated everywhere


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
    if item is not None and item.handler and not item.cross_region:
        problems.append(f"“{item.name}”已不再跨区域通办，请到办理地申请")
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
    case: str | None = None,
    note: str = "",
) -> str:
    """File an application for a resident; a retried submit (same `request_token`) returns the first number.
    An item of a 一件事 names its case: the number of the bundle's first item (that one, its own). The agent's
    note (代办说明) is sealed with the resident's fields: free text may say anything about the resident."""
    if not TOKEN.fullmatch(request_token or ""):
        raise IntakeRefused(["表单已失效，请重新打开“代办”页面后填写"])
    today = now.astimezone(CHINA).date()
    item, problems = intake_problems(catalogue, item_code, applicant, consent, today)
    problems += note_problems(note)
    if problems:
        raise IntakeRefused(problems)
    if unmet_conditions := eligibility_problems(item, applicant, today, identity.region, keys.lookup):
        raise IntakeRefused(unmet_conditions)
    stream = cross_region_stream(identity.station, item.handler) if item.handler else identity.station
    if item.handler:  # 跨区域通办: the resident's data is for the handling county alone
        recipients = county_recipients(item.handler, identity)
        if not recipients:
            raise IntakeRefused([f"本站尚未收到办理地（{item.handler}）县级枢纽的证书，请先同步后再申请通办"])
    code = querycode.make()
    tail_check = id_tail_check(code, normalise_id_number(applicant.id_number)[-4:])  # slow: before the lock
    with events.transaction():  # the check and the write in one transaction: a double click files once
        existing = (
            Application.select(Application.number)
            .where((Application.station == identity.station) & (Application.request_token == request_token))
            .scalar()
        )
        if existing is not None:
            return existing
        hlc = events.clock.now()  # one reading for the number's date and the event's (`filed_on`)
        number = _next_number(identity, beijing_date(hlc))
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
            query_code=code,
            tail_check=tail_check,
            case=case or (number if bundle else None),
            handler=item.handler or None,
            note=note,
        )
        events.append(FILED, entity(number), payload, stream=stream, hlc=hlc)
        keep_data_key(entity(number), identity.installation, data_key, keys.agreement.public_key())
        if item.authorised(identity.station, "rule"):  # 秒办: eligible (checked above), approved by the rule
            rule = {"basis": "rule", "rule": f"{item.code}@{item.version}", "by": operator}
            events.append(ON_AUTHORITY, entity(number), rule, stream=stream)
    return number


NOT_GRANTED = (NOT_ACCEPTED, WITHDRAWN, DENIED)  # an earlier application that came to nothing does not count


def eligibility_problems(
    item: ServiceItem, applicant: Applicant, today: dt.date, station_region: str, lookup_key: bytes
) -> list[str]:
    """The item's conditions that the applicant does not meet, as the resident is told them, before filing;
    the last application of the same item counts from what this station holds."""
    if not item.eligibility:
        return []
    id_number = normalise_id_number(applicant.id_number)
    last = (
        Application.select(pw.fn.MAX(Application.filed_on))
        .where(
            (Application.id_lookup == lookup_hash(lookup_key, "id_number", id_number))
            & (Application.item_code == item.code)
            & Application.state.not_in(NOT_GRANTED)
        )
        .scalar()
    )
    known = facts(id_number, today, station_region=station_region, last_same_item=last)
    return [f"不符合办理条件：{reason}" for reason in unmet(item.eligibility, known)]


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
    query_code: str,
    tail_check: str,
    bundle: str | None = None,
    case: str | None = None,
    handler: str | None = None,
    note: str = "",
) -> dict:
    """What an `application.filed` event carries: the resident's fields sealed under the data key, that key
    wrapped to each recipient, keyed hashes for search, and what the public query page needs at any node,
    the city's too, which cannot decrypt: the query code, the ID tail's check (`id_tail_check`) and the
    masked name. Pure, so that a simulated station files the very payload a real one does."""
    fields = _clear_fields(applicant) | ({"note": note.strip()} if note.strip() else {})
    return {
        "number": number,
        "station": station,
        "item": {"code": item.code, "version": item.version},
        "bundle": bundle,
        **({"case": case} if case else {}),
        **({"handler": handler} if handler else {}),  # 跨区域通办: the county that handles it
        "sealed": {name: encrypt_field(data_key, entity(number), name, value) for name, value in fields.items()},
        "keys": {
            installation: base64.b64encode(wrap_data_key(data_key, public, entity(number))).decode("ascii")
            for installation, public in recipients.items()
        },
        "lookups": {
            "id_number": lookup_hash(lookup_key, "id_number", fields["id_number"]),
            "name": lookup_hash(lookup_key, "name", fields["name"]),
        },
        "masked_id": mask_id_number(fields["id_number"]),
        "masked_name": mask_name(fields["name"]),
        "query_code": query_code,
        "id_tail_check": tail_check,
        "consent": {"recorded_by": operator},
        "request_token": request_token,
        "operator": operator,
    }


def note_problems(note: str) -> list[str]:
    return [f"代办说明不能超过 {NOTE_LIMIT} 个字"] if len(note.strip()) > NOTE_LIMIT else []


def id_tail_check(query_code: str, tail: str) -> str:
    """What lets any node holding the case, the city's too, tell whether the last four characters of the
    applicant's ID number are right without holding or learning the number: scrypt of the tail, salted
    with the case's query code. The tail alone is no secret (the masked ID on every paper shows it) and
    has only 11,000 values; what protects a resident is the random query code (or the number) a caller must
    also hold, and the per-case limit on wrong tails (`node.cases.tracking`). scrypt's cost (about 16 MB
    and tens of milliseconds) makes trying every tail of a copied row slow rather than instant, and the
    salt makes that work count for one case only. The code salts it, not the number, so that it is made
    before filing's write lock (the number is drawn inside it)."""
    digest = hashlib.scrypt(tail.upper().encode(), salt=query_code.encode(), n=2**14, r=8, p=1, dklen=32)
    return digest.hex()


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
    note: str = "",
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
    problems += note_problems(note)
    if problems:
        raise IntakeRefused(problems)
    numbers: list[str] = []
    with events.transaction():
        for code in bundle.item_codes:
            numbers.append(
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
                    note=note,
                    bundle=bundle.code,
                    case=numbers[0] if numbers else None,  # one case: its number is its first item's
                    request_token=hashlib.sha256(f"{request_token}/{code}".encode()).hexdigest()[:32],
                )
            )
    return numbers


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
    if event_type in BY_THE_RESIDENT:  # the resident's own channels only: node.cases.ratings
        raise IntakeRefused(["评价只能由群众本人作出，工作人员不能代为评价"])
    row = Application.get_or_none(Application.number == number)
    if row is None:
        raise IntakeRefused([f"没有办件 {number}"])
    too_long = [k for k in ("reason", "comment") if len(str(payload.get(k, ""))) > NOTE_LIMIT]
    if too_long:
        raise IntakeRefused([f"说明不能超过 {NOTE_LIMIT} 个字"])
    if event_type == "application.corrections_requested" and (problems := corrections_problems(payload)):
        raise IntakeRefused(problems)
    next_state_after(row.state, event_type, payload)  # a clear refusal before anything is written
    events.append(event_type, entity(number), payload, stream=case_stream(row))


def read_applicant(number: str, identity: Identity, keys: Keys) -> Applicant:
    """Decrypt the resident's fields with this station's key: unreadable once purged here."""
    return read_filing(number, identity, keys)[0]


def read_filing(number: str, identity: Identity, keys: Keys) -> tuple[Applicant, str]:
    """The resident's fields and the agent's note at filing (代办说明, "" when none was written), decrypted."""
    sealed = _read_sealed(number, identity, keys)
    return Applicant(*(sealed[name] for name in PERSONAL_FIELDS)), sealed.get("note", "")


def _read_sealed(number: str, identity: Identity, keys: Keys) -> dict[str, str]:
    row = Application.get_by_id(number)
    data_key = load_data_key(entity(number), identity.installation, keys.agreement)
    sealed = json.loads(row.sealed)
    return {name: decrypt_field(data_key, entity(number), name, value) for name, value in sealed.items()}


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
    if licence_title(material) is not None:
        raise IntakeRefused(["电子证照由作出决定的单位对办理结果盖章生成，不能直接上传"])
    if (title := result_title(material)) is not None:
        _check_result(row, title, data)
    return _store(events, identity, keys, blobs, row, material, data, {"by": operator})


def attach_licence(
    events: EventLog, identity: Identity, keys: Keys, blobs: BlobStore, number: str, title: str, data: bytes, use: dict
) -> str:
    """Keep a sealed electronic licence beside the result it was made from; `use` names the seal's use
    (`node.seals.sealing`), so the attachment and the use are read together."""
    row = Application.get_by_id(number)
    return _store(events, identity, keys, blobs, row, LICENCE + title, data, use)


def _store(
    events: EventLog, identity: Identity, keys: Keys, blobs: BlobStore, row: Application, material: str, data, extra
) -> str:
    number = row.number
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
                **extra,
            },
            stream=case_stream(row),
        )
    except BaseException:
        blobs.delete(digest)  # a fresh ciphertext (a new nonce): no other attachment can name it
        raise
    return digest


def _check_result(row: Application, title: str, data: bytes) -> None:
    """A result file comes with the decision: once decided, a PDF, named in a few words."""
    problems = []
    if row.state not in DECIDED:
        problems.append("作出决定后才能上传办理结果")
    if not 0 < len(title.strip()) <= 30:
        problems.append("请写明办理结果的名称（如 批文、营业执照），不超过 30 字")
    if sniff(data) != "application/pdf":
        problems.append("办理结果应为 PDF 文件")
    if problems:
        raise IntakeRefused(problems)


def read_scan(identity: Identity, keys: Keys, blobs: BlobStore, number: str, digest: str) -> tuple[str, bytes]:
    """The scan's content type and bytes, decrypted with this station's key."""
    attachment = Attachment.get_by_id((number, digest))
    data_key = load_data_key(entity(number), identity.installation, keys.agreement)
    return attachment.content_type, decrypt_bytes(data_key, entity(number), attachment.material, blobs.get(digest))
