"""The setup pages of a fresh station (`/setup`), through the test client on real SQLite files: every page
leads there; a wrong code, a corrupt bundle or the wrong level is said in words and writes nothing; the
bundle, the request, the grant and the first admin in order; CSRF on every form."""

from __future__ import annotations

import io

import pytest
from werkzeug.test import Client

from harness.tree import open_node
from harness.web import CSRF, login
from node.config import NodeConfig
from node.fleet import admin as fleet
from node.runtime import Node, initialise
from provisioning.operators import create_operator
from storage.database import close as close_database
from storage.database import db
from web import create_app, serving_app

HUB = "http://county.invalid"


@pytest.fixture
def registered(county_node):
    """A village registered at the county: (the county's config, the code, the bundle the county saves)."""
    done = fleet.register(county_node, name="青山村便民服务代办点", level="village", region="511302001001", hub_url=HUB)
    bundle = fleet.bundle_for(county_node, done.code, HUB)
    config = county_node.config
    db.close()
    return config, done.code, bundle


@pytest.fixture
def fresh(tmp_path):
    """`serve`'s app on a data dir that does not exist yet; `started` holds the node once it is set up."""
    config, started = NodeConfig(tmp_path / "station"), []
    yield config, Client(serving_app(config, started.append)), started
    close_database()


def _token(client: Client, path: str = "/setup/") -> str:
    return CSRF.search(client.get(path, follow_redirects=True).get_data(as_text=True)).group(1)


def _offline(client: Client, bundle: bytes, code: str = "", level: str = "village", name: str = "注册包.bundle"):
    form = {"csrf_token": _token(client, f"/setup/?level={level}"), "mode": "offline", "level": level, "code": code}
    return client.post("/setup/enrol", data={**form, "bundle": (io.BytesIO(bundle), name)})


def test_every_page_of_a_fresh_pc_leads_to_the_setup_and_programs_are_told_in_json(fresh):
    config, client, _ = fresh
    for path in ("/", "/login", "/work/", "/admin/", "/no-such-page"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"] == "/setup/"
    assert client.get("/healthz").status_code == 200 and client.get("/static/style.css").status_code == 200
    api = client.get("/api/v1/status")
    assert api.status_code == 503 and api.json["error"] == "not_set_up"
    page = client.get("/setup/").get_data(as_text=True)
    assert "村便民服务代办点" in page and "乡镇便民服务中心" in page and 'value="county"' not in page
    assert "县级枢纽网址" in client.get("/setup/?level=village").get_data(as_text=True)
    assert not config.data_dir.exists()


def test_a_form_without_its_csrf_token_is_refused_and_writes_nothing(fresh, registered):
    config, client, _ = fresh
    _, code, bundle = registered
    form = {"mode": "offline", "level": "village", "code": code, "bundle": (io.BytesIO(bundle), "b.bundle")}
    response = client.post("/setup/enrol", data=form)
    assert response.status_code == 400 and "表单已过期" in response.get_data(as_text=True)
    assert not config.data_dir.exists()


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ("wrong code", "注册包与注册码不符"),
        ("mistyped code", "注册码"),
        ("truncated", "注册包已损坏或被截断"),
        ("township", "这个注册码是给村便民服务代办点“青山村便民服务代办点”的"),
        ("no code", "请填写注册码"),
    ],
)
def test_a_wrong_code_a_corrupt_bundle_or_the_wrong_level_is_said_and_leaves_the_data_dir_as_it_was(
    fresh, registered, change, said
):
    config, client, _ = fresh
    config.data_dir.mkdir()  # an empty folder made for it stays empty
    _, code, bundle = registered
    if change == "wrong code":
        response = _offline(client, bundle, "0000-0000-000")
    elif change == "mistyped code":
        response = _offline(client, bundle, code[:-1] + ("0" if code[-1] != "0" else "1"))
    elif change == "truncated":
        response = _offline(client, bundle[: len(bundle) // 2], code)
    elif change == "township":
        response = _offline(client, bundle, code, level="township")
    else:
        response = _offline(client, bundle)
    assert response.status_code == 400 and said in response.get_data(as_text=True)
    assert list(config.data_dir.iterdir()) == []
    assert list(config.data_dir.parent.glob(".station-setup-*")) == []  # no staging folder left behind


def test_a_bundle_its_request_and_grant_then_the_first_admin_set_the_station_up(fresh, registered):
    config, client, started = fresh
    county, code, bundle = registered
    response = _offline(client, bundle, name=f"注册包-{code}.bundle")  # the code read from the file's name
    assert response.status_code == 302 and response.headers["Location"] == "/setup/"
    page = client.get("/setup/").get_data(as_text=True)
    assert "注册包已采用" in page and "保存注册请求文件" in page
    assert client.get("/work/").headers["Location"] == "/setup/"  # still led to the setup
    request = client.get("/setup/request")
    assert "attachment" in request.headers["Content-Disposition"]

    refused = client.post("/setup/grant", data={"csrf_token": _token(client), "grant": (io.BytesIO(b"junk"), "g")})
    assert refused.status_code == 400 and "回执无法解开" in refused.get_data(as_text=True)
    grant = fleet.grant(open_node(county), request.data)
    station = open_node(config)  # this process's database is the station's again
    response = client.post("/setup/grant", data={"csrf_token": _token(client), "grant": (io.BytesIO(grant), "g")})
    assert response.status_code == 302
    assert "建立本站第一个管理员账号" in client.get("/setup/").get_data(as_text=True)

    admin = {"username": "cun.admin", "name": "王村长", "staff_no": "C-001", "password": "qingshan-2024!"}
    mismatch = client.post("/setup/admin", data={**admin, "again": "qingshan-2024?", "csrf_token": _token(client)})
    assert mismatch.status_code == 400 and "两次输入的密码不一致" in mismatch.get_data(as_text=True)
    assert started == []
    done = client.post("/setup/admin", data={**admin, "again": admin["password"], "csrf_token": _token(client)})
    assert done.status_code == 302 and done.headers["Location"] == "/work/"
    assert "王村长" in client.get("/work/").get_data(as_text=True)  # logged in as the new admin
    assert client.get("/setup/").headers["Location"] == "/"
    assert [n.identity.station for n in started] == [station.identity.station]  # the jobs start once
    assert not (config.data_dir / "setup").exists()


def test_another_browser_must_give_the_enrolment_code_to_make_the_first_admin(tmp_path, county_node):
    """The PC was enrolled online on the command line's terms, then the browser that did it was closed."""
    done = fleet.register(county_node, name="青山村便民服务代办点", level="village", region="511302001001", hub_url=HUB)
    bundle = fleet.bundle_for(county_node, done.code, HUB)
    county = county_node.config
    db.close()
    config = NodeConfig(tmp_path / "station")
    first = Client(serving_app(config, lambda node: None))
    _offline(first, bundle, done.code)
    request = first.get("/setup/request").data
    grant = fleet.grant(open_node(county), request)
    open_node(config)
    first.post("/setup/grant", data={"csrf_token": _token(first), "grant": (io.BytesIO(grant), "g")})

    other = Client(serving_app(config, lambda node: None))  # the next day, another browser, the server restarted
    page = other.get("/setup/").get_data(as_text=True)
    assert 'name="code"' in page
    admin = {"username": "cun.admin", "name": "王村长", "password": "qingshan-2024!", "again": "qingshan-2024!"}
    wrong = other.post("/setup/admin", data={**admin, "code": "0000-0000-000", "csrf_token": _token(other)})
    assert wrong.status_code == 400 and "请填写本机注册时用的注册码" in wrong.get_data(as_text=True)
    right = other.post("/setup/admin", data={**admin, "code": done.code.lower(), "csrf_token": _token(other)})
    assert right.status_code == 302 and right.headers["Location"] == "/work/"


def test_a_station_initialised_on_the_command_line_is_led_to_enrol_until_it_has_an_account(node: Node):
    client = create_app(node=node).test_client()
    assert client.get("/").headers["Location"] == "/setup/"
    page = client.get("/setup/").get_data(as_text=True)
    assert "村便民服务代办点" in page and "重新选择" not in page  # its level was chosen at init
    create_operator(
        node.events, node.identity.station, username="cun", name="村管理员", role="admin", password="x" * 12
    )
    assert client.get("/").status_code == 200  # county IT gave it an account: theirs to enrol on the command line
    assert login(client, "cun", "x" * 12).status_code == 302


def test_a_hub_never_shows_the_setup(tmp_path):
    config = NodeConfig(tmp_path / "county")
    initialise(config, level="county", name="顺庆区政务服务中心", region="511302", algorithm="ecdsa-p256-sha256")
    client = create_app(node=Node.from_config(config)).test_client()
    assert client.get("/").status_code == 200
    assert client.get("/setup/").headers["Location"] == "/"
