"""The workbench through the Flask test client on a county hub (intake works at every level):
an agent finds an item, files for a resident (once, however often the form is sent), a clerk accepts."""

from __future__ import annotations

import re

import pytest

from harness.cases import item as an_item
from harness.web import login, post_intake, received_form, token
from node.catalogue.data import sample_catalogue
from storage.models import Application, EventRecord
from web import create_app


@pytest.fixture
def client(county_node):
    return create_app(node=county_node).test_client()


def test_the_catalogue_is_searched_in_chinese(client):
    login(client, "li", "agent-pass-1")
    page = client.get("/work/catalogue?q=社保").get_data(as_text=True)
    assert "城乡居民基本养老保险参保登记" in page  # an item of category 社会保险, found by its short name
    assert "死亡人员户口注销" not in page  # and not the whole catalogue
    assert "没有找到" in client.get("/work/catalogue?q=火星移民").get_data(as_text=True)


def test_an_agent_files_once_however_often_the_form_is_sent_and_a_clerk_accepts(client):
    login(client, "li", "agent-pass-1")
    item = an_item()
    form_page = client.get(f"/work/new?item={item.code}").get_data(as_text=True)
    assert "一次性告知" in form_page
    request_token = re.search(r'name="request_token" value="([^"]+)"', form_page).group(1)
    form = {
        "csrf_token": token(client, f"/work/new?item={item.code}"),
        "request_token": request_token,
        "item": item.code,
        "name": "张秀英",
        "id_number": "11010519491231002x",
        "phone": "13800138000",
        "address": "顺庆区搬罾街道青山村3组",
        "consent": "yes",
    }
    first = client.post("/work/new", data=form)
    second = client.post("/work/new", data=form)  # a double click
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert Application.select().count() == 1
    page = client.get(first.headers["Location"]).get_data(as_text=True)
    assert "张秀英" in page and "110***********002X" in page and "提交" in page
    assert "受理" not in re.sub(r"<ol.*?</ol>", "", page, flags=re.S).split("<h2>办理</h2>")[-1]

    client.post("/logout", data={"csrf_token": token(client, "/work/")})
    login(client, "zhou", "clerk-pass-1")
    number = Application.select().first().number
    check = received_form(an_item())  # each material ticked as received (原件)
    client.post(
        f"/work/a/{number}/application.accepted", data={"csrf_token": token(client, f"/work/a/{number}"), **check}
    )
    row = Application.get_by_id(number)
    assert row.state == "accepted" and row.due is not None
    queue = client.get("/work/?q=11010519491231002X").get_data(as_text=True)
    assert number in queue  # found by the full ID number, through its keyed hash


def test_a_bad_intake_shows_every_problem_in_chinese_and_files_nothing(client):
    login(client, "li", "agent-pass-1")
    item = an_item()
    page = post_intake(
        client,
        item,
        "0123456789abcdef" * 2,
        name="张三",
        id_number="110105194912310021",
        phone="12",
        address="",
        consent="",
    ).get_data(as_text=True)
    assert "校验位" in page and "同意" in page and "住址" in page
    assert not EventRecord.select().where(EventRecord.type == "application.filed").exists()


def test_the_agents_note_is_sealed_in_the_filing_and_shown_on_the_application_page(client):
    login(client, "li", "agent-pass-1")
    note = "申请人行动不便，代办员上门收件，已核对原件"
    filed = post_intake(client, an_item(), note=note)
    assert filed.status_code == 302
    assert note in client.get(filed.headers["Location"]).get_data(as_text=True)
    body = EventRecord.get(EventRecord.type == "application.filed").body
    assert "上门收件".encode() not in bytes(body)  # sealed like the resident's fields, never in the clear

    refused = post_intake(client, an_item(), "0123456789abcdef" * 2, note="长" * 501).get_data(as_text=True)
    assert "代办说明不能超过 500 个字" in refused
    assert Application.select().count() == 1


def test_an_illegal_step_is_refused_in_plain_words_and_an_agent_cannot_decide(client):
    page, _ = file_one(client)
    number = page.rsplit("/", 1)[1]
    assert (
        client.post(f"/work/a/{number}/application.accepted", data={"csrf_token": token(client, page)}).status_code
        == 403
    )  # li is an agent
    client.post("/logout", data={"csrf_token": token(client, "/work/")})
    login(client, "zhou", "clerk-pass-1")
    response = client.post(
        f"/work/a/{number}/application.decided", data={"csrf_token": token(client, page), "approved": "yes"}
    )
    assert response.status_code == 400 and "不能作出决定" in response.get_data(as_text=True)
    assert (
        client.post(
            "/work/a/nonexistent/application.accepted", data={"csrf_token": token(client, "/work/")}
        ).status_code
        == 404
    )


def test_a_form_without_a_proper_request_token_files_nothing(client):
    login(client, "li", "agent-pass-1")
    item = an_item()
    response = client.post(
        "/work/new",
        data={
            "csrf_token": token(client, f"/work/new?item={item.code}"),
            "request_token": "",
            "item": item.code,
            "name": "王一",
            "id_number": "11010519491231002X",
            "phone": "13800138000",
            "address": "青山村",
            "consent": "yes",
        },
    )
    assert "表单已失效" in response.get_data(as_text=True)
    assert Application.select().count() == 0


def file_one(client):
    login(client, "li", "agent-pass-1")
    item = an_item()
    return post_intake(client, item).headers["Location"], item


def test_a_scan_is_checked_by_content_kept_encrypted_and_read_back(client):
    import io

    from storage.models import Attachment

    page, item = file_one(client)
    material = item.materials[0].key
    jpeg = b"\xff\xd8\xff\xe0" + "身份证正面".encode() * 1000
    response = client.post(
        f"{page}/materials",
        data={"csrf_token": token(client, page), "material": material, "scan": (io.BytesIO(jpeg), "id.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    attachment = Attachment.get()
    node = client.application.extensions["onetrip"]
    assert "身份证正面".encode() not in node.blobs.path(attachment.blob).read_bytes()
    download = client.get(f"{page}/materials/{attachment.blob}")
    assert download.data == jpeg and download.mimetype == "image/jpeg"


def test_a_disguised_or_oversize_upload_is_refused_in_plain_words_and_keeps_nothing(client):
    import io

    from node.rules.materials import MAX_SCAN_BYTES
    from storage.models import Attachment

    page, item = file_one(client)
    material = item.materials[0].key
    exe = b"MZ\x90\x00" + b"\x00" * 1000
    response = client.post(
        f"{page}/materials",
        data={"csrf_token": token(client, page), "material": material, "scan": (io.BytesIO(exe), "身份证.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400 and "与文件名无关" in response.get_data(as_text=True)
    big = b"%PDF-" + b"0" * MAX_SCAN_BYTES
    response = client.post(
        f"{page}/materials",
        data={"csrf_token": token(client, page), "material": material, "scan": (io.BytesIO(big), "scan.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400 and "太大" in response.get_data(as_text=True)
    node = client.application.extensions["onetrip"]
    assert Attachment.select().count() == 0
    assert not list(node.blobs.root.rglob("*")) or all(p.is_dir() for p in node.blobs.root.rglob("*"))


def test_an_agent_files_a_bundle_once_with_shared_materials_asked_once(client):
    catalogue = sample_catalogue()
    bundle = next(
        b for b in catalogue.bundles.values() if all(catalogue.item(code).proxy_allowed for code in b.item_codes)
    )
    login(client, "li", "agent-pass-1")
    assert bundle.name in client.get("/work/catalogue").get_data(as_text=True)
    page = client.get(f"/work/new?bundle={bundle.code}").get_data(as_text=True)
    asked = [entry.material.name for entry in bundle.to_ask()]
    assert all(page.count(f"<li>{name}（") == 1 for name in asked)  # each shared material once
    request_token = re.search(r'name="request_token" value="([^"]+)"', page).group(1)
    form = {
        "csrf_token": token(client, f"/work/new?bundle={bundle.code}"),
        "request_token": request_token,
        "bundle": bundle.code,
        "name": "张秀英",
        "id_number": "11010519491231002X",
        "phone": "13800138000",
        "address": "青山村3组",
        "consent": "yes",
    }
    client.post("/work/new", data=form)
    client.post("/work/new", data=form)  # a double click
    filed = list(Application.select())
    assert len(filed) == len(bundle.item_codes)
    assert {a.bundle for a in filed} == {bundle.code}
    assert sorted(a.item_code for a in filed) == sorted(bundle.item_codes)


def test_the_conflicts_page_is_for_clerks_and_refuses_to_settle_what_is_not_a_conflict(client):
    page, _ = file_one(client)  # as the agent li
    number = page.rsplit("/", 1)[1]
    assert client.get("/work/conflicts").status_code == 403
    client.post("/logout", data={"csrf_token": token(client, "/work/")})
    login(client, "zhou", "clerk-pass-1")
    assert "没有待处理的冲突" in client.get("/work/conflicts").get_data(as_text=True)
    before = EventRecord.select().count()
    answer = client.post(
        "/work/conflicts",
        data={"csrf_token": token(client, "/work/conflicts"), "number": number, "eid": "0" * 64, "note": "x"},
    )
    assert "没有待处理的这项冲突" in answer.get_data(as_text=True) and EventRecord.select().count() == before


def test_the_queue_names_the_item_the_applicant_and_the_station_and_filters_by_state(client, county_node):
    location, item = file_one(client)
    number = location.rsplit("/", 1)[1]
    rows = client.get("/work/").get_data(as_text=True).split("<tbody>")[1]
    assert item.name in rows and "张**" in rows and county_node.identity.name in rows
    assert item.code not in rows.replace(f'title="{item.code}"', "")  # the code only as the name's tooltip
    assert number in client.get("/work/?state=waiting").get_data(as_text=True).split("<tbody>")[1]
    assert number not in client.get("/work/?state=review").get_data(as_text=True).split("<tbody>")[1]


def test_the_queue_is_searched_by_the_items_name(client):
    location, item = file_one(client)
    number = location.rsplit("/", 1)[1]
    assert number in client.get(f"/work/?q={item.name}").get_data(as_text=True).split("<tbody>")[1]
    assert number not in client.get("/work/?q=火星移民").get_data(as_text=True).split("<tbody>")[1]
