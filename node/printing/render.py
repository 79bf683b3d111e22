"""A paper as PDF bytes: checked here, laid out by `layout` (reportlab), which is loaded on the first paper
printed rather than at start: it costs a tenth of a second and megabytes that a node serving sync never needs.
"""

from __future__ import annotations

from node.printing.papers import SIZES, DocumentUnavailable, Paper, Stamp


def render(kind: str, paper: Paper, size: str = "A4", stamp: Stamp | None = None) -> bytes:
    """The document as PDF bytes on A4 or A5 paper; with `stamp`, the seal and its QR code under the text."""
    if size not in SIZES:
        raise DocumentUnavailable("纸张只能选 A4 或 A5")
    if kind == "decision" and paper.decision is None:
        raise DocumentUnavailable(f"办件 {paper.number} 尚未作出决定，还不能打印办结通知书")
    if kind == "refusal" and paper.refusal is None:
        raise DocumentUnavailable(f"办件 {paper.number} 没有被决定不予受理，没有不予受理通知书")
    from node.printing.layout import layout  # reportlab, loaded on the first paper printed

    return layout(kind, paper, size, stamp)
