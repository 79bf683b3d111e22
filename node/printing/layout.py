"""The layout of the printed documents with reportlab: one TrueType CJK font, embedded as a subset.

Kept apart from `node.printing.papers` so that only printing loads reportlab.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import re
from importlib import resources
from typing import NamedTuple
from xml.sax.saxutils import escape

import segno
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4, A5
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from node.catalogue.model import FORMS
from node.printing.papers import Paper, Slip, Stamp, title
from node.printing.stamp import RED, SealDrawing
from node.rules import querycode
from node.rules.decisions import decision_words, rights_after_refusal

FONT = "OneTripHei"
FONT_FILE = "wqy-microhei-gbk.ttf"
PAGES = {"A4": A4, "A5": A5}


def layout(kind: str, paper: Paper, size: str, stamp: Stamp | None = None) -> bytes:
    small = size == "A5"
    styles = _styles(9 if small else 11)
    margin = (12 if small else 20) * mm
    out = io.BytesIO()
    document = SimpleDocTemplate(
        out,
        pagesize=PAGES[size],
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin,
        title=f"{title(kind, paper)} {paper.number}",
        author=paper.station_name,
        invariant=True,  # no timestamp or random id: the same paper gives the same bytes
        initialFontName=_font(),  # else the canvas lists Helvetica, a font not embedded, though unused
        subject=stamp.qr_text if stamp else "",  # a sealed document says what its QR code says
    )
    layout = _Layout(document.width, (22 if small else 28) * mm, styles)
    body = [
        Paragraph(escape(issuer(kind, paper)), styles["station"]),
        Paragraph(title(kind, paper), styles["title"]),
        _labelled(_facts(paper), layout),
        Spacer(1, styles["body"].leading / 2),
        *_SECTIONS[kind](paper, layout),
        Spacer(1, styles["body"].leading),
        Paragraph(f"{escape(_signer(kind, paper))}　　　　（盖章）", styles["body"]),
        Paragraph(f"打印时间：{paper.printed_at:%Y年%m月%d日 %H:%M}", styles["body"]),
        *([_SealBlock(stamp, document.width, styles["small"])] if stamp else []),
    ]
    footer = functools.partial(_footer, f"办件编号 {paper.number}", styles["small"], margin)
    document.build(body, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()


def issuer(kind: str, paper: Paper) -> str:
    """The body a paper is issued by: a decision by the deciding department, a 受理回执 by the body that
    accepted, everything before acceptance by the station that took the materials in."""
    if kind == "decision":
        return paper.department
    if kind == "refusal" and paper.refused_by_body:
        return paper.refused_by_body
    if kind in ("receipt", "deferral") and paper.accepted_on and paper.accepted_by_body:
        return paper.accepted_by_body
    return paper.station_name


def _signer(kind: str, paper: Paper) -> str:
    if kind == "decision" and paper.decision:
        return f"经办人：{paper.decision.by}"
    if kind in ("receipt", "deferral") and paper.accepted_on and paper.accepted_by:
        return f"受理人：{paper.accepted_by}"
    if kind == "refusal" and paper.refusal:
        return f"经办人：{paper.refusal.by}"
    if kind == "notice" and paper.corrections_by:
        return f"经办人：{paper.corrections_by}"
    return f"经办人：{paper.operator}"


class _Layout(NamedTuple):
    width: float  # of the text frame, in points
    label: float  # of the label column
    styles: dict[str, ParagraphStyle]


def _facts(paper: Paper) -> list[tuple[str, str]]:
    due = f"{paper.due:%Y年%m月%d日}{'（暂定）' if paper.due_provisional else ''}" if paper.due else ""
    return [
        ("办件编号", paper.number),
        ("事项", f"{paper.item_name}（{paper.department}）"),
        *([] if paper.parts else [("事项编码", f"{paper.item_code}（第 {paper.item_version} 版）")]),
        ("申请人", paper.applicant_name),
        ("身份证号", paper.masked_id),
        ("收件日期", f"{paper.filed_on:%Y年%m月%d日}"),
        *([("受理日期", f"{paper.accepted_on:%Y年%m月%d日}")] if paper.accepted_on else []),
        ("承诺办结", due or f"受理后{paper.promised_limit}内办结"),
    ]


def _parts(paper: Paper, layout: _Layout) -> list:
    """一件事: the case's items, each decided by its own department, under one number."""
    if not paper.parts:
        return []
    rows = [(p.item_name, p.department, p.number, p.promise) for p in paper.parts]
    return [
        Paragraph("本件包含的事项（各由其部门办理，全部办结后本件办结）", layout.styles["heading"]),
        _grid(
            [("事项", "办理部门", "事项办件号", "承诺办结"), *rows],
            _shares(layout, 0.3, 0.26, 0.26, 0.18),
            layout.styles,
            header=True,
        ),
    ]


def _receipt(paper: Paper, layout: _Layout) -> list:
    header, rows = _received_rows(paper)
    note = (
        "本站已受理上述申请，将在承诺时限内办结。"
        if paper.accepted_on
        else "本凭证证明本站已收到上列材料，是否受理以受理部门的决定为准。"
    )
    if paper.deferral_due:
        note += f"标为“容缺”的材料，请申请人按容缺受理承诺书于 {paper.deferral_due:%Y年%m月%d日}前补齐。"
    return [
        *_parts(paper, layout),
        Paragraph("已收材料", layout.styles["heading"]),
        _grid([header, *rows], _shares(layout, 0.6, 0.4), layout.styles, header=True),
        Paragraph(note, layout.styles["body"]),
        *([_QueryBlock(paper, layout.width, layout.styles["body"])] if paper.query_code else []),
    ]


def _received_rows(paper: Paper) -> tuple[tuple[str, str], list[tuple[str, str]]]:
    """Once accepted on a check, what the window checked (a 容缺 with its last day); before, the scans held."""
    scans = {r.name: r.scans for r in paper.received}
    if not (paper.accepted_on and paper.checked):
        return ("材料", "份数"), [(r.name, f"扫描件 {r.scans} 份") for r in paper.received] or [
            ("（尚未收到材料）", "")
        ]
    due = f"，{paper.deferral_due:%Y年%m月%d日}前补齐" if paper.deferral_due else ""
    rows = [
        (name, word + (due if word == "容缺" else "") + (f"（扫描件 {scans[name]} 份）" if scans.get(name) else ""))
        for name, word in paper.checked
    ]
    return ("材料", "受理时核对"), rows


def _notice(paper: Paper, layout: _Layout) -> list:
    if not paper.missing:
        return [*_parts(paper, layout), Paragraph("所需材料已经齐全，无须补充。", layout.styles["body"])]
    rows = [(m.name, FORMS.get(m.form, m.form), str(m.count), m.note) for m in paper.missing]
    if paper.corrections_due:
        heading = "请补正以下材料（一次告知）"
        closing = (
            f"以上为须补正的全部材料。请于 {paper.corrections_due:%Y年%m月%d日} 前补齐，携带本告知书到本站办理；"
            "补正期间办理时限暂停计算。"
        )
    else:
        heading = "尚缺以下材料（一次性告知）"
        closing = (
            "以上为办理本事项尚缺的全部材料，本站一次性告知，不再另行要求其他材料。请补齐后携带本告知书到本站办理。"
        )
    return [
        *_parts(paper, layout),
        Paragraph(heading, layout.styles["heading"]),
        _grid(
            [("材料", "形式", "份数", "说明"), *rows], _shares(layout, 0.36, 0.2, 0.1, 0.34), layout.styles, header=True
        ),
        Paragraph(closing, layout.styles["body"]),
    ]


def _decision(paper: Paper, layout: _Layout) -> list:
    decision = paper.decision
    rows = [
        ("决定", decision_words(paper.kind, decision.approved)),
        *([("理由", decision.reason)] if decision.reason else []),
        ("决定机关", paper.department),
        ("决定日期", f"{decision.decided_on:%Y年%m月%d日}"),
    ]
    note = "请凭本通知书和本人身份证件领取办理结果。" if decision.approved else rights_after_refusal()
    return [_labelled(rows, layout), Paragraph(note, layout.styles["body"])]


def _refusal(paper: Paper, layout: _Layout) -> list:
    refusal = paper.refusal
    rows = [("决定", "不予受理"), ("理由", refusal.reason or "—"), ("决定日期", f"{refusal.decided_on:%Y年%m月%d日}")]
    return [_labelled(rows, layout), Paragraph(rights_after_refusal(), layout.styles["body"])]


def _deferral(paper: Paper, layout: _Layout) -> list:
    """容缺受理承诺书: what was accepted without, by when, and what follows if it is not brought; the resident
    signs it at the window, which keeps it with the case."""
    due = f"{paper.deferral_due:%Y年%m月%d日}"
    within = f"（受理之日起 {paper.deferral_days} 个工作日内）" if paper.deferral_days else ""
    rows = [(m.name, FORMS.get(m.form, m.form or "—"), str(m.count), f"{due}前") for m in paper.deferred]
    body, small = layout.styles["body"], layout.styles["small"]
    promises = [
        f"一、于 {due}前{within}将上列材料补齐，交到受理窗口或原收件站点，并出示本承诺书或受理回执；",
        "二、已提交的申请材料真实、有效，补齐的材料与已提交的材料和所填内容一致；",
        "三、逾期未补齐的，受理单位可以终止办理本申请，已进行的审查随之终止，须重新申请；"
        "所补材料与承诺不符的，依法承担相应责任。",
    ]
    return [
        Paragraph("暂缺的材料（容缺）", layout.styles["heading"]),
        _grid(
            [("材料", "形式", "份数", "补齐期限"), *rows],
            _shares(layout, 0.42, 0.2, 0.1, 0.28),
            layout.styles,
            header=True,
        ),
        Paragraph("申请人承诺", layout.styles["heading"]),
        Paragraph(
            f"本人申请办理“{escape(paper.item_name)}”，上列材料暂缺。经受理单位核对，其余材料齐全，"
            "上列材料属于可以容缺的非关键材料，同意先行受理。本人承诺：",
            body,
        ),
        *(Paragraph(escape(line), body) for line in promises),
        Spacer(1, body.leading),
        Paragraph("申请人（签字）：＿＿＿＿＿＿＿＿＿＿　　　　日期：＿＿＿＿年＿＿月＿＿日", body),
        Paragraph("本承诺书一式两份，申请人和受理单位各执一份。", small),
    ]


_SECTIONS = {
    "receipt": _receipt,
    "notice": _notice,
    "decision": _decision,
    "refusal": _refusal,
    "deferral": _deferral,
}


def _shares(layout: _Layout, *shares: float) -> list[float]:
    return [layout.width * share for share in shares]


def _labelled(rows: list[tuple[str, str]], layout: _Layout) -> Table:
    return _grid(rows, [layout.label, layout.width - layout.label], layout.styles, header=False)


def _grid(rows: list[tuple[str, ...]], widths: list[float], styles: dict, *, header: bool) -> Table:
    """A ruled table; the header row (repeated on every page) or else the label column is shaded."""
    cells = [[Paragraph(escape(text), styles["cell"]) for text in row] for row in rows]
    table = Table(cells, colWidths=widths, repeatRows=1 if header else 0, hAlign="LEFT")
    shaded = ((0, 0), (-1, 0)) if header else ((0, 0), (0, -1))
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), _font()),  # the cells' own font, though each holds a paragraph
                ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                ("BACKGROUND", *shaded, colors.HexColor("#f0eeea")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


class _SealBlock(Flowable):
    """Under the signature lines: the QR code at the left, the seal at the right, over the （盖章） line
    as a hand stamp would be."""

    QR_MM, OVERLAP_MM = 26, 14

    def __init__(self, stamp: Stamp, width: float, style: ParagraphStyle):
        super().__init__()
        self.stamp, self.width, self.style = stamp, width, style
        self.height = (max(self.QR_MM, stamp.drawing.diameter - self.OVERLAP_MM) + 6) * mm

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        canvas, qr = self.canv, self.QR_MM * mm
        _draw_qr(canvas, self.stamp.qr_text, 0, self.height - qr, qr)
        canvas.setFont(self.style.fontName, self.style.fontSize)
        canvas.drawString(0, self.height - qr - self.style.fontSize * 1.3, "扫码核验电子印章")
        radius = self.stamp.drawing.diameter / 2 * mm
        _draw_seal(canvas, self.stamp.drawing, self.width * 0.62, self.height + self.OVERLAP_MM * mm - radius)


class _QueryBlock(Flowable):
    """办件查询 on the receipt: the query code in groups, the page's address, and a QR code that opens the
    page with the code filled in (the holder types only the ID tail)."""

    QR_MM = 22

    def __init__(self, paper: Paper, width: float, style: ParagraphStyle):
        super().__init__()
        self.paper, self.width, self.style = paper, width, style
        self.height = (self.QR_MM + 4) * mm if paper.query_url else style.leading * 3

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        canvas, qr, code, url = self.canv, self.QR_MM * mm, self.paper.query_code, self.paper.query_url
        left = 0
        if url:
            _draw_qr(canvas, f"{url}?code={code}", 0, self.height - qr, qr)
            left = qr + 4 * mm
        lines = [
            f"查询码：{querycode.grouped(code)}",
            *([f"查询网址：{url}"] if url else []),
            "凭查询码和申请人身份证号后四位查询办理进度",
        ]
        canvas.setFont(self.style.fontName, self.style.fontSize)
        for index, line in enumerate(lines):
            canvas.drawString(left, self.height - (index + 1.2) * self.style.leading, line)


def slips(station_name: str, notices: tuple[Slip, ...], printed_at: dt.datetime) -> bytes:
    """办件进度通知 on A4, one after another with a line to cut along: each kept whole on its page."""
    styles = _styles(11)
    margin = 18 * mm
    out = io.BytesIO()
    document = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin,
        title=f"办件进度通知 {station_name}",
        author=station_name,
        invariant=True,
        initialFontName=_font(),
    )
    body = []
    for slip in notices:
        # The SMS's signature and masked greeting: on paper the station signs below and greets by the full name.
        text = slip.name + "您好，" + re.sub(r"^【[^】]*】[^，]*您好，", "", slip.text)
        body.append(
            KeepTogether(
                [
                    Paragraph(f"办件进度通知（{escape(slip.step)}）", styles["heading"]),
                    Paragraph(f"致：{escape(slip.name)}（{escape(slip.address)}）", styles["body"]),
                    Paragraph(escape(text), styles["body"]),
                    Paragraph(
                        f"本通知未能以短信送达，由{escape(station_name)}打印转交。"
                        f"办件编号 {escape(slip.number)}；打印时间 {printed_at:%Y年%m月%d日 %H:%M}",
                        styles["small"],
                    ),
                    Paragraph(
                        "- - - - - - - - - - - - - - - - - - - - 沿此线剪开 - - - - - - - - - - - - - - - - - - - -",
                        styles["small"],
                    ),
                ]
            )
        )
    document.build(body)
    return out.getvalue()


def seal_overlay(width: float, height: float, stamp: Stamp) -> bytes:
    """A page of the given size (in points) holding only the QR code and the seal at its lower right: laid
    over the last page of a result file the deciding body uploaded, which OneTrip did not lay out."""
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=(width, height), invariant=True, initialFontName=_font())
    margin, qr = 14 * mm, _SealBlock.QR_MM * mm
    radius = stamp.drawing.diameter / 2 * mm
    _draw_seal(canvas, stamp.drawing, width - margin - radius, margin + radius)
    left = width - margin - 2 * radius - qr - 4 * mm
    _draw_qr(canvas, stamp.qr_text, left, margin + 5 * mm, qr)
    canvas.setFont(_font(), 8)
    canvas.drawString(left, margin, "扫码核验电子证照")
    canvas.showPage()
    canvas.save()
    return out.getvalue()


@functools.lru_cache(maxsize=64)
def _qr_matrix(text: str) -> tuple:
    """The QR code's modules, with mask pattern 1 (rows alternating) given rather than chosen: choosing, which
    scores all eight masks, was most of a seal's QR time (9 of 12 ms; three times that on an old PC), and every
    reader decodes every mask. Cached, since a receipt's query QR is drawn again when the paper is sealed."""
    return segno.make(text, error="m", mask=1).matrix


def _draw_qr(canvas: Canvas, text: str, x: float, y: float, size: float) -> None:
    """Dark modules as filled runs, row by row: a few hundred rectangles rather than thousands."""
    matrix = _qr_matrix(text)
    module = size / len(matrix)
    canvas.saveState()
    canvas.setFillColor(colors.black)
    for row, line in enumerate(matrix):
        top = y + size - (row + 1) * module
        start = None
        for column, dark in enumerate([*line, 0]):
            if dark and start is None:
                start = column
            elif not dark and start is not None:
                canvas.rect(x + start * module, top, (column - start) * module, module, stroke=0, fill=1)
                start = None
    canvas.restoreState()


def _draw_seal(canvas: Canvas, drawing: SealDrawing, cx: float, cy: float) -> None:
    """The geometry of `node.printing.stamp` in millimetres, drawn at (cx, cy) in points, with our font."""
    red = colors.HexColor(RED)
    canvas.saveState()
    canvas.setStrokeColor(red)
    canvas.setFillColor(red)
    canvas.setLineWidth(drawing.ring * mm)
    canvas.circle(cx, cy, (drawing.diameter / 2 - drawing.ring / 2) * mm, stroke=1, fill=0)
    star = canvas.beginPath()
    for index, (x, y) in enumerate(drawing.star):
        (star.lineTo if index else star.moveTo)(cx + x * mm, cy + y * mm)
    star.close()
    canvas.drawPath(star, stroke=0, fill=1)
    for glyph in drawing.glyphs:
        canvas.saveState()
        canvas.translate(cx + glyph.x * mm, cy + glyph.y * mm)
        canvas.rotate(-glyph.turn)
        canvas.setFont(_font(), glyph.size * mm)
        canvas.drawCentredString(0, -glyph.size * mm * 0.36, glyph.char)
        canvas.restoreState()
    canvas.restoreState()


def _footer(text: str, style: ParagraphStyle, margin: float, canvas: Canvas, document) -> None:
    canvas.setFont(style.fontName, style.fontSize)
    canvas.drawString(margin, margin / 2, f"{text} · 第 {document.page} 页")


def _styles(base: float) -> dict[str, ParagraphStyle]:
    font = _font()
    body = ParagraphStyle("body", fontName=font, fontSize=base, leading=base * 1.6, wordWrap="CJK", spaceBefore=4)
    return {
        "body": body,
        "cell": ParagraphStyle("cell", parent=body, spaceBefore=0, leading=base * 1.4),
        "small": ParagraphStyle("small", parent=body, fontSize=base * 0.8),
        "heading": ParagraphStyle("heading", parent=body, fontSize=base * 1.15, spaceBefore=8, spaceAfter=4),
        "station": ParagraphStyle("station", parent=body, alignment=TA_CENTER),
        "title": ParagraphStyle(
            "title", parent=body, fontSize=base * 1.7, leading=base * 2.4, alignment=TA_CENTER, spaceAfter=6
        ),
    }


def warm() -> None:
    """The font read and registered now, and the QR encoder loaded, not on the first paper a person prints."""
    _font()
    segno.make("warm", error="m")


@functools.cache
def _font() -> str:
    """Read and register the font on first use only: 3 MB that a node which never prints leaves alone."""
    path = resources.files("node.printing").joinpath("fonts", FONT_FILE)
    with resources.as_file(path) as file:
        pdfmetrics.registerFont(TTFont(FONT, str(file)))
    return FONT
