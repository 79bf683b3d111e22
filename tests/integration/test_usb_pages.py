"""USB-stick sync from the browser: the village exports on its page, the county imports it on its page and
saves the return bundle, the village imports that; a bad file is refused in words and changes nothing."""

from __future__ import annotations

import io

from harness.cases import file
from harness.commands import rows
from harness.tree import open_node
from harness.web import login, token
from node.cases.intake import transition
from node.config import NodeConfig
from provisioning.operators import create_operator
from storage.database import db
from web import create_app


def client_at(data_dir, username: str):
    """A logged-in browser at one node (its database bound for as long as the next node is not opened)."""
    node = open_node(NodeConfig(data_dir))
    with node.events.transaction():
        create_operator(
            node.events, node.identity.station, username=username, name="测试", role="agent", password="usb-pass-123"
        )
    client = create_app(node=node).test_client()
    login(client, username, "usb-pass-123")
    return client


def upload(client, data: bytes, name: str = "同步包.otb"):
    form = {"csrf_token": token(client, "/sync/usb/"), "bundle": (io.BytesIO(data), name)}
    return client.post("/sync/usb/import", data=form, content_type="multipart/form-data")


def test_a_round_by_usb_stick_through_the_pages(dirs):
    village, county = dirs / "village", dirs / "county"
    number = file(open_node(NodeConfig(village)))
    db.close()
    at_village = client_at(village, "cun.usb")
    exported = at_village.post("/sync/usb/export", data={"csrf_token": token(at_village, "/sync/usb/")})
    assert exported.status_code == 200 and "attachment" in exported.headers["Content-Disposition"]
    bundle = exported.data
    db.close()

    at_county = client_at(county, "county.usb")
    imported = upload(at_county, bundle)
    page = imported.get_data(as_text=True)
    assert imported.status_code == 200 and "下级的同步包已导入" in page
    link = page.split('href="/sync/usb/returns/')[1].split('"')[0]
    returned = at_county.get(f"/sync/usb/returns/{link}").data
    transition(open_node(NodeConfig(county)).events, number, "application.accepted", {"by": "county.clerk"})
    db.close()
    assert rows(county, f"SELECT state FROM application WHERE number = '{number}'") == [("accepted",)]

    at_village = client_at(village, "cun.usb2")
    done = upload(at_village, returned).get_data(as_text=True)
    assert "回执包已导入" in done and "本轮同步完成" in done
    db.close()


def test_a_bad_file_is_refused_in_words_and_changes_nothing(dirs):
    county = dirs / "county"
    at_county = client_at(county, "county.usb")
    before = rows(county, "SELECT COUNT(*) FROM event")
    refused = upload(at_county, b"not a bundle at all")
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "没有导入" in page and "这不是 OneTrip 同步包" in page
    assert rows(county, "SELECT COUNT(*) FROM event") == before
    assert "请先选择" in upload(at_county, b"", name="").get_data(as_text=True)
    db.close()
