"""A paper as PDF bytes: checked here, laid out by `layout` (reportlab), which is loaded on the first paper
printed rather than at start: it costs a tenth of a second and megabytes that a node serving sync never needs.
"""

from __future__ import annotations

import datetime as dt
import io

from node.printing.papers import SIZES, DocumentUnavailable, Paper, Slip, Stamp


def render(kind: str, paper: Paper, size: str = "A4", stamp: Stamp | None = None) -> bytes:
    """The document as PDF bytes on A4 or A5 paper; with `stamp`, the seal and its QR code under the text."""
    if size not in SIZES:
        raise DocumentUnavailable("纸张只能选 A4 或 A5")
    if kind == "decision" and paper.decision is None:
        raise DocumentUnavailable(f"办件 {paper.number} 尚未作出决定，还不能打印办结通知书")
    if kind == "deferral" and not paper.deferred:
        raise DocumentUnavailable(f"办件 {paper.number} 没有容缺受理的材料，没有容缺受理承诺书")
    if kind == "refusal" and paper.refusal is None:
        raise DocumentUnavailable(f"办件 {paper.number} 没有被决定不予受理，没有不予受理通知书")
    from node.printing.layout import layout  # reportlab, loaded on the first paper printed

    return layout(kind, paper, size, stamp)


def render_slips(station_name: str, notices: tuple[Slip, ...], printed_at: dt.datetime) -> bytes:
    """The notices a station hands over on paper, as one PDF (`printed_at` in Beijing time)."""
    if not notices:
        raise DocumentUnavailable("没有选择要打印的通知")
    from node.printing.layout import slips  # reportlab, loaded on the first paper printed

    return slips(station_name, notices, printed_at)


def stamp_onto(pdf: bytes, stamp: Stamp) -> bytes:
    """An uploaded result (a licence, a 批文) with the seal and its QR code on its last page, and the QR text as
    its /Subject, as OneTrip's own sealed papers carry it; refused in words if the PDF cannot be stamped."""
    from pypdf import PdfReader, PdfWriter  # loaded when a licence is first sealed
    from pypdf.errors import PyPdfError

    from node.printing.layout import seal_overlay

    try:
        reader = PdfReader(io.BytesIO(pdf))
        if reader.is_encrypted:
            raise DocumentUnavailable("这份 PDF 设有密码，无法盖章：请上传未加密的 PDF")
        writer = PdfWriter(clone_from=reader)
        page = writer.pages[-1]
        box = page.mediabox
        overlay = PdfReader(io.BytesIO(seal_overlay(float(box.width), float(box.height), stamp))).pages[0]
        page.merge_translated_page(overlay, float(box.left), float(box.bottom))
        writer.add_metadata({"/Subject": stamp.qr_text})
        out = io.BytesIO()
        writer.write(out)
    except (PyPdfError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise DocumentUnavailable("这份 PDF 已损坏或格式不规范，无法盖章：请重新导出后上传") from exc
    return out.getvalue()
