"""Seals without a command line: the holder asks for an ordered seal with a file (the key made here, under
the PIN the holder sets), the county accepts the file on its page, the holder installs the grant and later
changes the PIN; every refusal is said on the page and changes nothing."""

from __future__ import annotations

import io

from harness.seals import CREDIT_CODE, PIN
from harness.web import login, token
from node.seals import lifecycle as seals
from provisioning.operators import create_operator
from provisioning.seal_keys import unlock_seal_key
from storage.database import db
from storage.models import Seal
from web import create_app


def at(tree, which: str, username: str, role: str):
    node = tree.open(which)
    if username != "li":
        with node.events.transaction():
            create_operator(
                node.events, node.identity.station, username=username, name="测试", role=role, password="page-pass-123"
            )
    client = create_app(node=node).test_client()
    login(client, username, "agent-pass-1" if username == "li" else "page-pass-123")
    return node, client


def post(client, path: str, **form):
    files = {k: (io.BytesIO(v), "f") for k, v in form.items() if isinstance(v, bytes)}
    fields = {k: v for k, v in form.items() if not isinstance(v, bytes)}
    data = {"csrf_token": token(client, path if path.endswith("mine") else "/admin/seals"), **fields, **files}
    return client.post(path, data=data, content_type="multipart/form-data")


def test_a_seal_asked_for_by_file_accepted_at_the_county_and_installed_at_the_station(seal_tree):
    county, _ = at(seal_tree, "county", "wang2", "admin")
    village_station = Seal.get().station
    seal_id = seals.order_seal(
        county,
        station=village_station,
        kind="official",
        name="公章",
        owner="青山村便民服务代办点",
        credit_code=CREDIT_CODE,
        valid_days=365,
        actor="wang2",
    )
    db.close()
    _, village = at(seal_tree, "village", "li", "agent")
    mismatch = post(village, "/seals/mine", seal=seal_id, pin="246813", pin_again="246810", action="file")
    assert mismatch.status_code == 400 and "两次输入的印章口令不一致" in mismatch.get_data(as_text=True)
    asked = post(village, "/seals/mine", seal=seal_id, pin="246813", pin_again="246813", action="file")
    assert asked.status_code == 200 and "attachment" in asked.headers["Content-Disposition"]
    db.close()
    _, hub = at(seal_tree, "county", "wang3", "admin")
    refused = post(hub, "/admin/seals/accept", request=b"not a request")
    assert refused.status_code == 400 and "没有受理" in refused.get_data(as_text=True)
    grant = post(hub, "/admin/seals/accept", request=asked.data)
    assert grant.status_code == 200
    db.close()
    holder, village = at(seal_tree, "village", "li", "agent")
    installed = post(village, "/seals/mine", grant=grant.data, action="install").get_data(as_text=True)
    assert "已安装" in installed and seal_id in installed
    unlock_seal_key(holder.config.data_dir, seal_id, "246813", holder.now())  # the PIN the holder set opens it
    db.close()


def test_the_holder_changes_the_pin_and_a_wrong_old_one_changes_nothing(seal_tree):
    holder, village = at(seal_tree, "village", "li", "agent")
    seal_id = Seal.get().seal_id
    wrong = post(
        village, "/seals/mine", seal=seal_id, old_pin="000000", pin="97531864", pin_again="97531864", action="pin"
    )
    assert wrong.status_code == 400 and "口令不正确" in wrong.get_data(as_text=True)
    unlock_seal_key(holder.config.data_dir, seal_id, PIN, holder.now())  # still the old PIN
    changed = post(
        village, "/seals/mine", seal=seal_id, old_pin=PIN, pin="97531864", pin_again="97531864", action="pin"
    )
    assert changed.status_code == 200 and "印章口令已更改" in changed.get_data(as_text=True)
    unlock_seal_key(holder.config.data_dir, seal_id, "97531864", holder.now())
    db.close()
