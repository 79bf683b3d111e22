"""Printed documents through the Flask test client on a county hub: a receipt, a one-time notice and a
decision notice come back as PDF with the font embedded as a subset, the right paper size, the masked ID
number only, exactly the missing materials; an agent of another station gets none of them."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from pypdf import PdfReader

from harness.web import login, received_form, token
from node.catalogue.data import sample_catalogue
from node.catalogue.model import FORMS
from node.fleet import admin as fleet
from node.rules.decisions import decision_words
from provisioning.operators import create_operator
from storage.models import Application
from web import create_app

FULL_ID = "11010519491231002X"
MASKED_ID = "110***********002X"


@pytest.fixture
def client(county_node):
    return create_app(node=county_node).test_client()


def an_item_with_materials(count: int = 3):
    return next(
        i
        for i in sample_catalogue().current()
        if i.proxy_allowed and i.promised_limit.days > 0 and len(i.materials) >= count
    )


def file_one(client, item) -> str:
    login(client, "li", "agent-pass-1")
    response = client.post(
        "/work/new",
        data={
            "csrf_token": token(client, f"/work/new?item={item.code}"),
            "request_token": "7e57" * 8,
            "item": item.code,
            "name": "张秀堃",
            "id_number": FULL_ID,
            "phone": "13800138000",
            "address": "青山村3组",
            "consent": "yes",
        },
    )
    return response.headers["Location"].rsplit("/", 1)[1]


def upload(client, number: str, material: str) -> None:
    page = f"/work/a/{number}"
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
    response = client.post(
        f"{page}/materials",
        data={"csrf_token": token(client, page), "material": material, "scan": (io.BytesIO(png), "scan.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302


def read_pdf(response) -> tuple[PdfReader, str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/pdf" and response.data.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(response.data))
    return reader, "".join(page.extract_text() for page in reader.pages)


def fonts_of(reader: PdfReader) -> list:
    return [font.get_object() for page in reader.pages for font in page["/Resources"]["/Font"].values()]


def test_a_receipt_embeds_a_subset_of_the_font_and_shows_the_masked_id_never_the_full_one(client):
    item = an_item_with_materials()
    number = file_one(client, item)
    upload(client, number, item.materials[0].key)
    response = client.get(f"/work/a/{number}/print/receipt.pdf?size=A4")
    reader, text = read_pdf(response)
    assert "材料接收凭证" in text  # not accepted yet: the station only took the materials in
    assert number in text and item.name in text and "张秀堃" in text and "李代办" in text
    assert MASKED_ID in text and FULL_ID not in text and FULL_ID.lower() not in text
    assert item.materials[0].name in text
    assert [round(float(v)) for v in reader.pages[0].mediabox[2:]] == [595, 842]
    fonts = fonts_of(reader)
    assert fonts and all(font["/Subtype"] == "/TrueType" for font in fonts)  # no unembedded standard font
    for font in fonts:
        prefix, _, name = str(font["/BaseFont"]).lstrip("/").partition("+")
        assert len(prefix) == 6 and prefix.isupper() and prefix.isalpha() and name
        assert "/FontFile2" in font["/FontDescriptor"]
    assert (
        "filename*=UTF-8''" in response.headers["Content-Disposition"]
        and number in response.headers["Content-Disposition"]
    )


def test_the_one_time_notice_lists_exactly_the_materials_not_yet_received_on_a5(client):
    item = an_item_with_materials()
    number = file_one(client, item)
    upload(client, number, item.materials[1].key)
    reader, text = read_pdf(client.get(f"/work/a/{number}/print/notice.pdf?size=A5"))
    assert [round(float(v)) for v in reader.pages[0].mediabox[2:]] == [420, 595]
    assert "一次性告知书" in text
    rows = text.split("尚缺以下材料")[1].split("以上为办理本事项尚缺的全部材料")[0].splitlines()
    missing = [m for m in item.materials if m.key != item.materials[1].key]
    assert [m.name for m in item.materials if m.name in rows] == [m.name for m in missing]
    for m in missing:  # each with its form and count
        at = rows.index(m.name)
        assert rows[at + 1 : at + 3] == [FORMS[m.form], str(m.count)]
    for material in item.materials:
        upload(client, number, material.key)
    _, text = read_pdf(client.get(f"/work/a/{number}/print/notice.pdf"))
    assert "所需材料已经齐全" in text and "尚缺以下材料" not in text


def test_a_decision_notice_prints_once_decided_with_the_reason(client):
    item = an_item_with_materials()
    number = file_one(client, item)
    refused = client.get(f"/work/a/{number}/print/decision.pdf")
    assert refused.status_code == 400 and "尚未作出决定" in refused.get_data(as_text=True)
    assert "打印办结通知" not in client.get(f"/work/a/{number}").get_data(as_text=True)

    client.post("/logout", data={"csrf_token": token(client, "/work/")})
    login(client, "zhou", "clerk-pass-1")
    page = f"/work/a/{number}"
    client.post(f"{page}/application.accepted", data={"csrf_token": token(client, page), **received_form(item)})
    client.post(
        f"{page}/application.decided",
        data={"csrf_token": token(client, page), "approved": "no", "reason": "户籍不在本区"},
    )
    assert Application.get_by_id(number).state == "denied"
    assert "打印办结通知" in client.get(page).get_data(as_text=True)
    _, text = read_pdf(client.get(f"{page}/print/decision.pdf?size=A5"))
    assert "办结通知书" in text and decision_words(item.kind, False) in text and "户籍不在本区" in text
    assert (
        "周科员" in text and "行政复议" in text and item.department in text.split("\n")[1]
    )  # the department issues it
    _, receipt = read_pdf(client.get(f"{page}/print/receipt.pdf"))
    assert "受理回执" in receipt and "受理日期" in receipt


def test_another_stations_agent_gets_no_document_and_a_bad_size_is_refused_in_chinese(client, county_node):
    item = an_item_with_materials()
    number = file_one(client, item)
    assert client.get(f"/work/a/{number}/print/receipt.pdf?size=B5").status_code == 400
    assert "A4 或 A5" in client.get(f"/work/a/{number}/print/receipt.pdf?size=B5").get_data(as_text=True)
    assert client.get(f"/work/a/{number}/print/letter.pdf").status_code == 404

    village = fleet.register(
        county_node,
        name="青山村便民服务代办点",
        level="village",
        region="511302001001",
        hub_url="http://county.invalid",
    )
    create_operator(
        county_node.events, village.station, username="zhao", name="赵代办", role="agent", password="agent-pass-2"
    )
    other = create_app(node=county_node).test_client()
    login(other, "zhao", "agent-pass-2")
    for path in (f"/work/a/{number}/print/receipt.pdf", f"/api/v1/applications/{number}/documents/notice.pdf"):
        response = other.get(path)
        assert response.status_code == 403 and b"%PDF" not in response.data
        assert "只能查看本站点的办件" in response.get_data(as_text=True)
    missing = other.get("/api/v1/applications/nonexistent/documents/receipt.pdf")
    assert missing.status_code == 404 and missing.json["message"] == "没有办件 nonexistent"


def test_the_api_serves_the_same_documents(client):
    item = an_item_with_materials()
    number = file_one(client, item)
    _, text = read_pdf(client.get(f"/api/v1/applications/{number}/documents/notice.pdf?size=A4"))
    assert "一次性告知书" in text and number in text


def test_a_corrections_request_lists_exactly_what_the_clerk_ticked_with_its_date_and_the_late_case_is_flagged(client):
    item = an_item_with_materials()
    number = file_one(client, item)
    page = f"/work/a/{number}"
    assert "第三十二条" not in client.get(page).get_data(as_text=True)
    filed_on = Application.get_by_id(number).filed_on
    Application.update(filed_on=filed_on - dt.timedelta(days=30)).where(Application.number == number).execute()
    assert "行政许可法》第三十二条" in client.get(page).get_data(as_text=True)  # six working days and more unaccepted
    client.post("/logout", data={"csrf_token": token(client, "/work/")})
    login(client, "zhou", "clerk-pass-1")
    asked = item.materials[0].name
    form = {"csrf_token": token(client, page), "items": [asked], "other": "近期免冠照片两张", "deadline_days": "10"}
    client.post(f"{page}/application.corrections_requested", data=form)
    row = Application.get_by_id(number)
    assert row.state == "corrections_requested"
    _, text = read_pdf(client.get(f"{page}/print/notice.pdf"))
    flat = text.replace("\n", "")
    assert "补正告知书" in flat and asked in flat and "近期免冠照片两张" in flat and "前补齐" in flat
    others = [m.name for m in item.materials[1:] if m.name not in asked and m.name not in item.name]
    assert not any(name in flat for name in others)  # the items asked for, not the catalogue's whole list
    nothing = {"csrf_token": token(client, page), "deadline_days": "10"}
    refused = client.post(f"{page}/application.corrections_requested", data=nothing)
    assert refused.status_code == 400


def test_a_refusal_to_accept_gets_its_own_notice_with_the_reason_and_the_rights(client):
    item = an_item_with_materials()
    number = file_one(client, item)
    page = f"/work/a/{number}"
    assert client.get(f"{page}/print/refusal.pdf").status_code == 400  # not refused: no such paper
    client.post("/logout", data={"csrf_token": token(client, "/work/")})
    login(client, "zhou", "clerk-pass-1")
    form = {"csrf_token": token(client, page), "reason": "不属于本机关职权范围，请向县民政局申请"}
    client.post(f"{page}/application.not_accepted", data=form)
    assert "打印不予受理通知书" in client.get(page).get_data(as_text=True)
    _, text = read_pdf(client.get(f"{page}/print/refusal.pdf"))
    flat = text.replace("\n", "")
    assert "不予受理通知书" in flat and "不属于本机关职权范围" in flat and "行政复议" in flat and "周科员" in flat


def test_a_decisions_result_file_is_kept_encrypted_listed_for_printing_and_told_in_the_query(client):
    from node.cases.tracking import QueryGuard, look_up

    item = an_item_with_materials()
    number = file_one(client, item)
    page = f"/work/a/{number}"
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

    def upload(title: str, data: bytes = pdf):
        form = {"csrf_token": token(client, page), "result_title": title, "scan": (io.BytesIO(data), "r.pdf")}
        return client.post(f"{page}/materials", data=form, content_type="multipart/form-data")

    assert upload("批文").status_code == 403  # an agent does not issue results
    client.post("/logout", data={"csrf_token": token(client, "/work/")})
    login(client, "zhou", "clerk-pass-1")
    before = upload("批文")
    assert before.status_code == 400 and "作出决定后才能上传办理结果" in before.get_data(as_text=True)
    client.post(f"{page}/application.accepted", data={"csrf_token": token(client, page), **received_form(item)})
    client.post(f"{page}/application.decided", data={"csrf_token": token(client, page), "approved": "yes"})
    assert "应为 PDF" in upload("批文", b"\x89PNG\r\n\x1a\n" + b"0" * 64).get_data(as_text=True)
    assert upload("批文").status_code == 302
    shown = client.get(page).get_data(as_text=True)
    assert "办理结果" in shown and "批文" in shown
    row = Application.get_by_id(number)
    found = look_up(QueryGuard(), sample_catalogue(), code_or_number=row.query_code, id_tail="002X", client="t")
    assert found.results == ("批文",)
