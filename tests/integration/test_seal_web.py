"""Seals through the web and the command line: a county admin orders a seal, the holder asks over the
authenticated endpoint, an agent seals a receipt with the PIN, anyone verifies it on /verify or with
`onetrip verify`, and a bad PIN or a bad upload changes nothing and is answered in Chinese."""

from __future__ import annotations

import io
import stat

from app import main
from harness.seals import PIN, SEAL_ID
from harness.web import login, token
from node.seals import lifecycle as seals
from node.seals.records import parse_claim
from provisioning.operators import create_operator
from provisioning.seal_keys import key_path
from storage.database import db
from storage.models import Seal, SealOrder, SealUse
from web import create_app


def village_client(tree):
    client = create_app(node=tree.open("village")).test_client()
    login(client, "li", "agent-pass-1")
    return client


def seal_via_web(client, number, pin=PIN):
    page = f"/work/a/{number}"
    return client.post(
        f"{page}/seal/receipt.pdf", data={"csrf_token": token(client, page), "seal": SEAL_ID, "pin": pin, "size": "A5"}
    )


def test_an_agent_seals_a_receipt_with_the_pin_and_anyone_verifies_it_on_the_verify_page(seal_tree):
    client = village_client(seal_tree)
    page = client.get(f"/work/a/{seal_tree.number}").get_data(as_text=True)
    assert "盖章打印受理回执" in page and SEAL_ID in page

    refused = seal_via_web(client, seal_tree.number, pin="999999")
    assert refused.status_code == 400 and "印章口令不正确" in refused.get_data(as_text=True)
    assert SealUse.select().count() == 0

    sealed = seal_via_web(client, seal_tree.number)
    assert sealed.status_code == 200 and sealed.mimetype == "application/pdf"
    assert SealUse.select().count() == 1

    anonymous = create_app(node=seal_tree.open("village")).test_client()
    form = {"csrf_token": token(anonymous, "/verify"), "pdf": (io.BytesIO(sealed.data), "receipt.pdf")}
    answer = anonymous.post("/verify", data=form, content_type="multipart/form-data").get_data(as_text=True)
    assert "印章有效" in answer and "青山村便民服务代办点" in answer and seal_tree.number in answer

    qr = SealUse.get().digest
    claim_text = next(line for line in _subject(sealed.data).splitlines() if qr in line)
    assert parse_claim(claim_text).digest == qr
    answer = anonymous.post("/verify", data={"csrf_token": token(anonymous, "/verify"), "qr": claim_text})
    assert "二维码有效" in answer.get_data(as_text=True)
    answer = anonymous.post("/verify", data={"csrf_token": token(anonymous, "/verify"), "qr": "hello"})
    assert answer.status_code == 200 and "这不是 OneTrip 电子印章的二维码内容" in answer.get_data(as_text=True)
    not_pdf = {"csrf_token": token(anonymous, "/verify"), "pdf": (io.BytesIO(b"GIF89a"), "x.pdf")}
    answer = anonymous.post("/verify", data=not_pdf, content_type="multipart/form-data")
    assert "上传的文件不是 PDF" in answer.get_data(as_text=True)

    svg = anonymous.get(f"/seals/{SEAL_ID}.svg")
    assert svg.mimetype == "image/svg+xml" and "青" in svg.get_data(as_text=True)
    assert anonymous.get("/fonts/wqy-microhei-gbk.ttf").status_code == 200


def _subject(pdf: bytes) -> str:
    from pypdf import PdfReader

    return PdfReader(io.BytesIO(pdf)).metadata["/Subject"]


def test_onetrip_verify_says_valid_then_altered_with_exit_codes(seal_tree, tmp_path, capsys):
    client = village_client(seal_tree)
    pdf = seal_via_web(client, seal_tree.number).data
    db.close()
    good, bad = tmp_path / "good.pdf", tmp_path / "bad.pdf"
    good.write_bytes(pdf)
    altered = bytearray(pdf)
    altered[len(altered) // 3] ^= 0x01
    bad.write_bytes(bytes(altered))
    assert main(["verify", "--data", str(seal_tree.city.data_dir), str(good)]) == 0
    out = capsys.readouterr().out
    assert "印章有效" in out and SEAL_ID in out and "尚未收到这枚印章的登记" in out
    assert main(["verify", "--data", str(seal_tree.village.data_dir), str(bad)]) == 1
    assert "被改动过" in capsys.readouterr().out


def test_a_county_admin_orders_a_seal_on_the_page_and_the_holder_gets_it_over_the_endpoint(seal_tree):
    county = seal_tree.open("county")
    station = Seal.get(Seal.seal_id == SEAL_ID).station
    admin = create_app(node=county).test_client()  # the template county has no accounts yet
    create_operator(
        county.events, county.identity.station, username="wang", name="王主任", role="admin", password="county-admin-1"
    )
    login(admin, "wang", "county-admin-1")
    refused = admin.post(
        "/admin/seals",
        data={
            "csrf_token": token(admin, "/admin/seals"),
            "station": station,
            "kind": "acceptance",
            "owner": "青山村",
            "credit_code": "91511302MA6200010H",
            "days": "365",
        },
    )
    assert "校验位不符" in refused.get_data(as_text=True) and SealOrder.select().count() == 1
    done = admin.post(
        "/admin/seals",
        data={
            "csrf_token": token(admin, "/admin/seals"),
            "station": station,
            "kind": "acceptance",
            "owner": "青山村便民服务代办点",
            "credit_code": "91511302MA6200010G",
            "days": "365",
        },
    )
    assert "511302-S0002" in done.get_data(as_text=True)

    request = seals.request_seal(seal_tree.open("village"), "511302-S0002", "246801")
    assert stat.S_IMODE(key_path(seal_tree.village.data_dir, "511302-S0002").stat().st_mode) == 0o600
    api = create_app(node=seal_tree.open("county")).test_client()
    assert api.post("/api/v1/seals/request", data=b"garbage").json["error"] == "seal_refused"
    grant = api.post("/api/v1/seals/request", data=request)
    assert grant.status_code == 200
    again = api.post("/api/v1/seals/request", data=request)
    assert again.status_code == 400 and "已经签发过" in again.json["message"]
    installed = seals.install_seal(seal_tree.open("village"), grant.data)
    assert installed.kind == "acceptance" and installed.name == "受理专用章"

    county = seal_tree.open("county")
    admin = create_app(node=county).test_client()
    login(admin, "wang", "county-admin-1")
    page = admin.get("/admin/seals").get_data(as_text=True)
    assert "511302-S0002" in page and "受理专用章" in page
    admin.post(
        f"/admin/seals/{SEAL_ID}/revoke", data={"csrf_token": token(admin, "/admin/seals"), "reason": "电脑遗失"}
    )
    assert Seal.get(Seal.seal_id == SEAL_ID).revoked_at is not None
