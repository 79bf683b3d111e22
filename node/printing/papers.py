"""The papers of an application — 受理回执 / 材料接收凭证, 一次性告知书, 办结通知书, 不予受理通知书, 容缺受理承诺书
— as plain values.

A `Paper` holds what a document says and nothing else; `render` turns it into PDF bytes, the same bytes
for the same values (no creation time or random id inside), so a paper made offline at a village prints
the same anywhere. The one font ships in `node/printing/fonts`, embedded as a subset of what a paper uses."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from node.errors import DomainError
from node.printing.stamp import SealDrawing

SIZES = ("A4", "A5")


KINDS = ("receipt", "notice", "decision", "refusal", "deferral")


class DocumentUnavailable(DomainError):
    """A document that cannot be printed as asked (not decided yet, an unknown paper size…)."""

    code = "document_unavailable"


@dataclass(frozen=True)
class MaterialLine:
    """A material still to bring, as the catalogue version asks for it."""

    name: str
    form: str  # "original" | "copy" | "either"
    count: int
    note: str = ""


@dataclass(frozen=True)
class Received:
    """A material the station holds scans of."""

    name: str
    scans: int


@dataclass(frozen=True)
class Decision:
    approved: bool
    reason: str
    decided_on: dt.date
    by: str


@dataclass(frozen=True)
class Part:
    """One item of a 一件事 case, as its receipt and 一次性告知 list it."""

    item_name: str
    department: str
    number: str
    promise: str


@dataclass(frozen=True)
class Paper:
    """Everything a document may print about one application; never the full ID number."""

    station_name: str
    number: str
    item_name: str
    item_code: str
    item_version: int
    department: str
    applicant_name: str
    masked_id: str
    filed_on: dt.date
    accepted_on: dt.date | None
    due: dt.date | None
    due_provisional: bool
    promised_limit: str  # as the catalogue says it: "20个工作日", "即办"
    operator: str  # who took the materials in, as people know them: a real name and staff number, never a login
    received: tuple[Received, ...]
    missing: tuple[MaterialLine, ...]
    decision: Decision | None
    printed_at: dt.datetime  # Beijing time
    kind: str = "service"  # the item's kind (node.rules.decisions): how its decision is worded
    accepted_by_body: str = ""  # the station that accepted it: the 受理回执 is that body's paper
    accepted_by: str = ""  # who accepted it, by real name and staff number
    corrections_due: dt.date | None = None  # a 补正 request awaits: `missing` holds exactly what it asked for
    corrections_by: str = ""  # who asked for the corrections, by real name and staff number
    refusal: Decision | None = None  # 不予受理: why, when and by whom (approved is False)
    refused_by_body: str = ""  # the body that refused to accept: the 不予受理通知书 is its paper
    query_code: str = ""  # 查询码; none on applications filed before query codes
    query_url: str = ""  # the county hub's public query page; empty where none is known
    parts: tuple[Part, ...] = ()  # 一件事: the case's items, each decided by its own department
    deferred: tuple[MaterialLine, ...] = ()  # 容缺: accepted without these, on the resident's signed promise
    deferral_due: dt.date | None = None  # the last day to bring them
    deferral_days: int = 0  # the working days that date was counted as
    checked: tuple[tuple[str, str], ...] = ()  # the window's check at 受理: (material, 原件 / 复印件 / 电子件 / 容缺)


@dataclass(frozen=True)
class Slip:
    """A notice the resident did not get by SMS, printed by the filing station and handed over: it names the
    resident in full (it goes by hand, not over a carrier) but, like the SMS, never the ID number."""

    number: str
    name: str
    address: str
    step: str  # 受理, 补正, 不予受理, 办结, 可领取 (node.rules.notices)
    text: str  # the SMS as it would have gone out


@dataclass(frozen=True)
class Stamp:
    """A seal put on a document: its image and the QR text of the signed claim (`node.seals.records`)."""

    drawing: SealDrawing
    qr_text: str


def title(kind: str, paper: Paper) -> str:
    """Before acceptance a station has only taken materials in: its receipt says so."""
    if kind == "receipt":
        return "受理回执" if paper.accepted_on else "材料接收凭证"
    if kind == "notice" and paper.corrections_due:
        return "补正告知书"
    return {
        "notice": "一次性告知书",
        "decision": "办结通知书",
        "refusal": "不予受理通知书",
        "deferral": "容缺受理承诺书",
    }[kind]


def filename(kind: str, paper: Paper) -> str:
    return f"{title(kind, paper)}-{paper.number}.pdf"
