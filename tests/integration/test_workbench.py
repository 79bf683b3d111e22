"""The workbench through the Flask test client on a county hub (intake works at every level):
an agent finds an item, files for a resident (once, however often the form is sent), a clerk accepts."""

from __future__ import annotations

import re
import shutil

import pytest

from node.config import NodeConfig
from node.data import sample_catalogue
from provisioning.operators import create_operator
from storage.database import db
from storage.models import Application, EventRecord
from tests.support.tree import open_node, provision_county
from web import create_app


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    tree = provision_county(tmp_path_factory.mktemp("tree"))
    db.close()
    return tree


@pytest.fixture
def client(template, tmp_path):
    shutil.copytree(template.county.data_dir, tmp_path / "county")
    node = open_node(NodeConfig(tmp_path / "county"))
    create_operator(
        node.events, node.identity.station, username="li", name="李代办", role="agent", password="agent-pass-1"
    )
    create_operator(
        node.events, node.identity.station, username="zhou", name="周科员", role="clerk", password="clerk-pass-1"
    )
    yield create_app(node=node).test_client()
    db.close()


def token(client, path):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def login(client, username, password):
    client.post("/login", data={"username": username, "password": password, "csrf_token": token(client, "/login")})


def an_item():
    return next(i for i in sample_catalogue().current() if i.proxy_allowed and i.promised_limit.days > 0)


def test_the_catalogue_is_searched_in_chinese(client):
    login(client, "li", "agent-pass-1")
    page = client.get("/work/catalogue?q=社保").get_data(as_text=True)
    assert "社会保险" in page or "社保" in page
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
    client.post(f"/work/a/{number}/application.accepted", data={"csrf_token": token(client, f"/work/a/{number}")})
    row = Application.get_by_id(number)
    assert row.state == "accepted" and row.due is not None
    queue = client.get("/work/?q=11010519491231002X").get_data(as_text=True)
    assert number in queue  # found by the full ID number, through its keyed hash


def test_a_bad_intake_shows_every_problem_in_chinese_and_files_nothing(client):
    login(client, "li", "agent-pass-1")
    item = an_item()
    page = client.post(
        "/work/new",
        data={
            "csrf_token": token(client, f"/work/new?item={item.code}"),
            "request_token": "x1",
            "item": item.code,
            "name": "张三",
            "id_number": "110105194912310021",
            "phone": "12",
            "address": "",
            "consent": "",
        },
    ).get_data(as_text=True)
    assert "校验位" in page and "同意" in page and "住址" in page
    assert not EventRecord.select().where(EventRecord.type == "application.filed").exists()


def test_an_illegal_step_is_refused_in_plain_words(client):
    login(client, "zhou", "clerk-pass-1")
    response = client.post("/work/a/nonexistent/application.accepted", data={"csrf_token": token(client, "/work/")})
    assert response.status_code == 400 and "没有办件" in response.get_data(as_text=True)
