"""Online enrolment from the setup page against a real county hub on loopback: the QR code's text pasted (or
the code typed with the hub's address) enrols a fresh PC in one step; a rogue fingerprint, a used or unknown
code are said in words and leave the data dir as it was."""

from __future__ import annotations

import pytest
from werkzeug.test import Client

from harness.servers import free_port, start, stop
from harness.web import CSRF
from node.config import NodeConfig
from node.fleet import admin as fleet
from storage.database import close as close_database
from storage.database import db
from web import serving_app


@pytest.fixture
def county(county_node):
    """The served county with a village registered: (its URL, the registration's QR text and code)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    done = fleet.register(county_node, name="青山村便民服务代办点", level="village", region="511302001001", hub_url=url)
    data_dir = county_node.config.data_dir
    db.close()
    process = start(["serve", "--data", str(data_dir)], port)
    yield url, done.qr_text, done.code
    stop(process)


@pytest.fixture
def fresh(tmp_path):
    config = NodeConfig(tmp_path / "station")
    yield config, Client(serving_app(config, lambda node: None))
    close_database()


def _online(client: Client, **fields):
    page = client.get("/setup/?level=village").get_data(as_text=True)
    form = {"csrf_token": CSRF.search(page).group(1), "mode": "online", "level": "village", **fields}
    return client.post("/setup/enrol", data=form)


def test_the_qr_codes_text_pasted_enrols_a_fresh_pc_in_one_step(county, fresh):
    url, qr, _ = county
    config, client = fresh
    response = _online(client, qr=qr)
    assert response.status_code == 302
    page = client.get("/setup/").get_data(as_text=True)
    assert "注册完成" in page and "建立本站第一个管理员账号" in page
    identity = (config.data_dir / "identity.json").read_text("utf-8")
    assert '"provisional": false' in identity and f'"issuer_url": "{url}"' in identity


def test_the_code_typed_with_the_hubs_address_enrols_too(county, fresh):
    url, _, code = county
    config, client = fresh
    assert _online(client, code=code, hub=url.removeprefix("http://")).status_code == 302
    assert "建立本站第一个管理员账号" in client.get("/setup/").get_data(as_text=True)


def test_a_rogue_fingerprint_a_used_or_unknown_code_writes_nothing(county, fresh, tmp_path):
    url, qr, code = county
    config, client = fresh
    rogue = _online(client, qr=qr.rsplit("fp=", 1)[0] + "fp=" + "0" * 64)
    assert rogue.status_code == 400 and "指纹" in rogue.get_data(as_text=True)
    unknown = _online(client, code="0000-0000-000", hub=url)
    assert unknown.status_code == 400 and "注册码无效" in unknown.get_data(as_text=True)
    assert not config.data_dir.exists()
    other = NodeConfig(tmp_path / "other")
    assert _online(Client(serving_app(other, lambda node: None)), qr=qr).status_code == 302
    close_database()
    used = _online(client, qr=qr)
    assert used.status_code == 400 and "注册码已使用" in used.get_data(as_text=True)
    assert not config.data_dir.exists()
    assert list(tmp_path.glob(".station-setup-*")) == []
