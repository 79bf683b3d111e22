"""Document layout is pure: the same paper gives the same bytes, and text from people is printed as text."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from pypdf import PdfReader

from node.catalogue.data import sample_catalogue
from node.printing.dossier import missing_materials
from node.printing.papers import Decision, DocumentUnavailable, MaterialLine, Paper, Received
from node.printing.render import render

PAPER = Paper(
    station_name="青山村便民服务代办点",
    number="511302001001-20260301-AB1200001",
    item_name="城乡居民基本养老保险参保登记",
    item_code="11511302MB10040469-0001",
    item_version=2,
    department="顺庆区社会保险事业管理局",
    applicant_name="张秀堃",
    masked_id="110***********002X",
    filed_on=dt.date(2026, 3, 1),
    accepted_on=dt.date(2026, 3, 2),
    due=dt.date(2026, 3, 30),
    due_provisional=True,
    promised_limit="20个工作日",
    operator="李代办",
    received=(Received("居民身份证", 2),),
    missing=(MaterialLine("户口簿", "original", 1, "首页及本人页"),),
    decision=Decision(False, "年龄<16 周岁 & 不符合条件", dt.date(2026, 3, 10), "周科员"),
    printed_at=dt.datetime(2026, 3, 10, 9, 30),
    kind="payment",  # a pension: 给付, not 许可
    accepted_by_body="搬罾街道便民服务中心",
    accepted_by="王芳（工号 0123）",
)


def text_of(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_the_same_paper_gives_the_same_bytes():
    assert render("receipt", PAPER, "A5") == render("receipt", PAPER, "A5")


def test_a_provisional_deadline_is_marked_and_a_reason_with_markup_characters_prints_as_written():
    text = text_of(render("decision", PAPER))
    assert "2026年03月30日（暂定）" in text and "年龄<16 周岁 & 不符合条件" in text and "不予给付" in text


def issued_by(text: str) -> str:
    """The paper's first line under the page's footer line: the body that issues it."""
    return text.split("\n")[1].strip()


def test_papers_name_the_body_that_issues_them_and_who_decided_in_the_words_of_the_items_kind():
    decision = text_of(render("decision", PAPER)).replace("\n", "")
    assert (
        issued_by(text_of(render("decision", PAPER))) == "顺庆区社会保险事业管理局"
    )  # the department, not the village
    assert "决定机关" in decision and "经办人：周科员" in decision and "许可" not in decision
    assert "六十日内依法申请行政复议" in decision and "六个月内依法向人民法院提起行政诉讼" in decision
    receipt = text_of(render("receipt", PAPER))
    assert issued_by(receipt) == "搬罾街道便民服务中心" and "受理人：王芳（工号 0123）" in receipt  # the accepting body
    before = text_of(render("receipt", Paper(**{**PAPER.__dict__, "accepted_on": None})))
    assert issued_by(before) == "青山村便民服务代办点" and "经办人：李代办" in before and "材料接收凭证" in before
    granted = Paper(
        **{**PAPER.__dict__, "kind": "licence", "decision": Decision(True, "", dt.date(2026, 3, 10), "周科员")}
    )
    assert "准予许可" in text_of(render("decision", granted))


def test_a_decision_notice_before_a_decision_and_an_unknown_paper_size_are_refused_in_chinese():
    undecided = Paper(**{**PAPER.__dict__, "decision": None})
    with pytest.raises(DocumentUnavailable, match="尚未作出决定"):
        render("decision", undecided)
    with pytest.raises(DocumentUnavailable, match="A4 或 A5"):
        render("notice", PAPER, "Letter")


def test_a_long_list_of_missing_materials_runs_onto_a_second_page_with_the_number_on_each():
    many = Paper(**{**PAPER.__dict__, "missing": tuple(MaterialLine(f"材料{n}", "copy", 1) for n in range(60))})
    pages = PdfReader(io.BytesIO(render("notice", many, "A5"))).pages
    assert len(pages) > 1 and all(PAPER.number in page.extract_text() for page in pages)


def test_materials_another_item_of_the_bundle_issues_are_not_asked_of_the_applicant():
    catalogue = sample_catalogue()
    entry = next(e for b in catalogue.bundles.values() for e in b.checklist if e.issued_by)
    asking = next(catalogue.item(code) for code in entry.item_codes)
    keys = {m.key for m in asking.materials}
    assert entry.material.key in keys
    missing = missing_materials(asking, set(), {entry.material.key})
    assert [m.name for m in missing] == [m.name for m in asking.materials if m.key != entry.material.key]
    assert missing_materials(asking, keys, set()) == ()
