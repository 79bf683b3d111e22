"""Printed documents of an application — 受理回执 / 材料接收凭证, 一次性告知书, 办结通知书 — as PDF.

Pure: a `Paper` of plain values in, PDF bytes out, the same bytes for the same values (no creation
time or random id inside), so a document made offline at a village prints the same anywhere. The
one font ships in `node/printing/fonts` and is embedded as a subset of the characters a document uses.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from node.errors import DomainError
from node.seal_image import SealDrawing

SIZES = ("A4", "A5")
KINDS = ("receipt", "notice", "decision")


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
    operator: str
    received: tuple[Received, ...]
    missing: tuple[MaterialLine, ...]
    decision: Decision | None
    printed_at: dt.datetime  # Beijing time


@dataclass(frozen=True)
class Stamp:
    """A seal put on a document: its image and the QR text of the signed claim (`node.seal_records`)."""

    drawing: SealDrawing
    qr_text: str


def title(kind: str, paper: Paper) -> str:
    """Before acceptance a station has only taken materials in: its receipt says so."""
    if kind == "receipt":
        return "受理回执" if paper.accepted_on else "材料接收凭证"
    return {"notice": "一次性告知书", "decision": "办结通知书"}[kind]


def filename(kind: str, paper: Paper) -> str:
    return f"{title(kind, paper)}-{paper.number}.pdf"


def render(kind: str, paper: Paper, size: str = "A4", stamp: Stamp | None = None) -> bytes:
    """The document as PDF bytes on A4 or A5 paper; with `stamp`, the seal and its QR code under the text."""
    if size not in SIZES:
        raise DocumentUnavailable("纸张只能选 A4 或 A5")
    if kind == "decision" and paper.decision is None:
        raise DocumentUnavailable(f"办件 {paper.number} 尚未作出决定，还不能打印办结通知书")
    from node import pdf  # reportlab costs a tenth of a second and megabytes at start; only printing needs it

    return pdf.layout(kind, paper, size, stamp)
