"""Logins, CSRF, roles and the county admin's pages, through the Flask test client on a real county hub."""

from __future__ import annotations

import pytest

from harness.web import GIVEN_PASSWORD, account_to_change, login, token
from provisioning.operators import create_operator
from storage.database import db
from storage.models import AuditEntry, EventRecord, Operator, Registration
from web import create_app


@pytest.fixture
def county(county_node):
    return county_node


@pytest.fixture
def client(county):
    app = create_app(node=county)
    return app.test_client()


def test_a_wrong_password_is_refused_and_five_lock_the_account(client):
    for _ in range(5):
        response = login(client, "wang", "nope-nope")
        assert response.status_code == 401 and "用户名或密码错误" in response.get_data(as_text=True)
    response = login(client, "wang", "county-admin-1")
    assert "已锁定" in response.get_data(as_text=True)


def test_a_form_posted_without_its_csrf_token_is_refused_and_changes_nothing(client):
    login(client, "wang", "county-admin-1")
    before = Registration.select().count()
    response = client.post("/admin/register", data={"name": "青山村", "level": "village", "region": "511302001001"})
    assert response.status_code == 400 and "刷新页面" in response.get_data(as_text=True)
    assert Registration.select().count() == before


def test_the_county_admin_registers_a_station_and_sees_its_code_and_qr(client):
    assert login(client, "wang", "county-admin-1").status_code == 302
    response = client.post(
        "/admin/register",
        data={
            "name": "青山村便民服务代办点",
            "level": "village",
            "region": "511302001001",
            "csrf_token": token(client, "/admin/register"),
        },
    )
    page = response.get_data(as_text=True)
    assert "一次性注册码" in page and "<svg" in page and "onetrip:enrol?" in page
    assert AuditEntry.select().where((AuditEntry.action == "register") & (AuditEntry.actor == "wang")).exists()
    fleet = client.get("/admin/").get_data(as_text=True)
    assert "青山村便民服务代办点" in fleet and "未注册" in fleet


def test_a_bad_registration_shows_the_problem_in_chinese(client):
    login(client, "wang", "county-admin-1")
    response = client.post(
        "/admin/register",
        data={
            "name": "外县村",
            "level": "village",
            "region": "511303001001",
            "csrf_token": token(client, "/admin/register"),
        },
    )
    assert "不在本辖区" in response.get_data(as_text=True)


def test_an_agent_cannot_open_the_admin_pages(client):
    login(client, "li", "agent-pass-1")
    assert client.get("/admin/").status_code == 403


def test_a_disabled_account_stops_working_at_once(client, county):
    login(client, "li", "agent-pass-1")
    assert client.get("/password").status_code == 200
    Operator.update(disabled=True).where(Operator.username == "li").execute()
    response = client.get("/password")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_county_admin_disables_a_stations_account_with_a_trust_event(client, county):
    from node.fleet import admin as fleet

    village = fleet.register(county, name="青山村", level="village", region="511302001001", hub_url="http://x.invalid")
    # The village's account as it reaches the county (written here into the village's stream).
    create_operator(
        county.events, village.station, username="zhao", name="赵代办", role="agent", password="village-pass"
    )
    login(client, "wang", "county-admin-1")
    client.post(
        "/admin/operators/zhao/disable", data={"csrf_token": token(client, "/admin/operators"), "reason": "离职"}
    )
    assert Operator.get_by_id("zhao").disabled
    event = EventRecord.get(EventRecord.entity == "operator:zhao", EventRecord.type == "trust.operator_disabled")
    assert event.stream == "all"


def test_an_account_with_a_password_set_by_the_county_must_change_it_first(client, county):
    account_to_change(county, "new.admin", "admin")
    response = login(client, "new.admin", GIVEN_PASSWORD)
    assert response.headers["Location"].endswith("/password")
    client.post(
        "/password",
        data={
            "old": GIVEN_PASSWORD,
            "new": "my-own-secret",
            "again": "my-own-secret",
            "csrf_token": token(client, "/password"),
        },
    )
    client.post("/logout", data={"csrf_token": token(client, "/password")})
    assert login(client, "new.admin", "my-own-secret").headers["Location"].endswith("/")


def test_a_county_cannot_touch_accounts_outside_its_division(county):
    from provisioning.operators import county_disable
    from sync.log import NotAuthorized
    from sync.projection import RuleViolation

    with pytest.raises(NotAuthorized):  # it may not write into another county's station's stream
        create_operator(
            county.events, "511303001001-01", username="qian", name="钱代办", role="agent", password="outsider-1"
        )
    with pytest.raises(RuleViolation):
        county_disable(county.events, "qian", by="wang", reason="越权")
    assert not EventRecord.select().where(EventRecord.entity == "operator:qian").exists()


@pytest.mark.parametrize(
    "target", ["//evil.example/", "/%09/evil.example", "/\t/evil.example", "/\\evil.example", "https://evil.example/"]
)
def test_login_never_redirects_to_another_host(client, target):
    response = client.post(
        f"/login?next={target}",
        data={"username": "wang", "password": "county-admin-1", "csrf_token": token(client, "/login")},
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    assert "evil" not in location


def test_an_account_that_must_change_its_password_can_open_nothing_else(client, county):
    account_to_change(county, "fresh", "admin")
    login(client, "fresh", GIVEN_PASSWORD)
    response = client.get("/admin/operators")
    assert response.status_code == 302 and response.headers["Location"].endswith("/password")


def test_a_station_cannot_re_enable_an_account_its_county_disabled(county):
    from node.fleet import admin as fleet
    from provisioning.operators import AccountRefused, county_disable, set_disabled

    village = fleet.register(county, name="青山村", level="village", region="511302001001", hub_url="http://x.invalid")
    create_operator(
        county.events, village.station, username="sun", name="孙代办", role="agent", password="village-pass"
    )
    county_disable(county.events, "sun", by="wang", reason="违规")
    with pytest.raises(AccountRefused):
        set_disabled(county.events, village.station, "sun", False, by="cun.admin")
    assert Operator.get_by_id("sun").disabled


def test_the_admin_issues_a_fresh_code_for_a_station_that_has_not_enrolled(client, county):
    from node.fleet import admin as fleet

    old = fleet.register(county, name="青山村", level="village", region="511302001001", hub_url="http://x.invalid")
    login(client, "wang", "county-admin-1")
    page = client.post(f"/admin/stations/{old.station}/code", data={"csrf_token": token(client, "/admin/")})
    text = page.get_data(as_text=True)
    assert "新的注册码" in text and "<svg" in text and old.code not in text
    from provisioning.codes import code_hash

    assert Registration.get_by_id(old.station).code_hash != code_hash(old.code)


def test_the_admin_replaces_a_stations_pc_from_the_fleet_page(county, tmp_path):
    from harness.tree import open_node
    from node.cli.demo import enrol_by_bundle
    from node.config import NodeConfig
    from node.fleet import admin as fleet
    from node.runtime import initialise

    county_config = county.config
    done = fleet.register(county, name="青山村", level="village", region="511302001001", hub_url="http://x.invalid")
    db.close()
    village = NodeConfig(tmp_path / "village")
    initialise(village, level="village", name="青山村", region="511302001001", algorithm="ecdsa-p256-sha256")
    enrol_by_bundle(county_config, village, done.code, "http://x.invalid")
    old_installation = open_node(village).identity.installation
    hub = open_node(county_config)
    client = create_app(node=hub).test_client()
    login(client, "wang", "county-admin-1")
    assert "更换电脑" in client.get("/admin/").get_data(as_text=True)
    page = client.post(
        f"/admin/stations/{done.station}/replace", data={"csrf_token": token(client, "/admin/"), "reason": "硬盘损坏"}
    )
    assert "旧安装已吊销" in page.get_data(as_text=True)
    assert hub.events.trust.is_revoked(old_installation)
    assert Registration.get_by_id(done.station).previous_installation == old_installation


def test_after_login_each_person_lands_on_their_work_not_the_status_page(client):
    assert login(client, "li", "agent-pass-1").headers["Location"].endswith("/work/")
    client.post("/logout", data={"csrf_token": token(client, "/work/")})
    assert login(client, "wang", "county-admin-1").headers["Location"].endswith("/admin/")
    assert "系统状态" in client.get("/").get_data(as_text=True)


def test_the_fleet_shows_this_hub_as_itself_and_its_parent_as_such_not_as_never_contacted(client, county):
    login(client, "wang", "county-admin-1")
    rows = client.get("/admin/").get_data(as_text=True).split("<tbody>")[1].split("</tr>")
    own = next(r for r in rows if county.identity.station in r and county.identity.name in r)
    parent = next(r for r in rows if county.identity.parent and f">{county.identity.parent}<" in r)
    assert "本机" in own and "未联系" not in own
    assert "上级" in parent and "未联系" not in parent


def test_the_registration_page_gives_steps_that_work_on_a_fresh_pc_and_the_offline_bundle(client):
    login(client, "wang", "county-admin-1")
    form = {"name": "白塔村便民服务代办点", "level": "village", "region": "511302001002"}
    page = client.post("/admin/register", data={**form, "csrf_token": token(client, "/admin/register")})
    text = page.get_data(as_text=True)
    steps = text.split('<ol class="steps">')[1].split("</ol>")[0]
    # The steps of the station's setup page, which a fresh PC opens by itself: no command line for the station.
    assert (
        "设置页面" in steps
        and "选择层级“村便民服务代办点”" in steps
        and "onetrip" not in steps.replace("onetrip:enrol", "")
    )
    assert "受理注册请求" in steps and "建立本站第一个管理员账号" in steps
    code = text.split('name="code" value="')[1].split('"')[0]
    bundle = client.post("/admin/bundle", data={"code": code, "csrf_token": token(client, "/admin/register")})
    assert bundle.status_code == 200 and "attachment" in bundle.headers["Content-Disposition"] and bundle.data
    wrong = client.post("/admin/bundle", data={"code": "WRONGCODE", "csrf_token": token(client, "/admin/register")})
    assert wrong.status_code == 400
