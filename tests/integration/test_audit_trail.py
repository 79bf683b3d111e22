"""The county admin's audit trail: in Chinese words, filtered by person, action, station and Beijing dates,
paginated with the filters kept, and exported as CSV with the same filters."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from harness.web import login
from provisioning.audit import audit
from storage.models import AuditEntry
from web import create_app


@pytest.fixture
def client(county_node):
    with county_node.events.transaction():
        audit("wang", "register", "511302001001-01", "ok", "青山村 village 511302001001")
        audit("wang", "revoke", "i-stolen", "ok", "电脑被盗")
        audit("li", "order_seal", "seal-1", "ok", "511302001001-01")
        audit("enrolment", "enrol", None, "refused", "注册码已使用")
    AuditEntry.update(at=dt.datetime(2026, 11, 30, 17, 0)).where(
        AuditEntry.action == "revoke"
    ).execute()  # 12-01 01:00 Beijing
    client = create_app(node=county_node).test_client()
    login(client, "wang", "county-admin-1")
    return client


def listed(client, query: str = "") -> str:
    """The table's rows only: the filter's choices name every action too."""
    page = client.get(f"/admin/audit{query}").get_data(as_text=True)
    return page.split("<tbody>")[1].split("</tbody>")[0]


def test_actions_and_outcomes_are_in_chinese_words(client):
    page = listed(client)
    assert "登记站点" in page and "吊销安装" in page and "订制印章" in page and "（站点注册请求）" in page
    assert ">register<" not in page and ">revoke<" not in page and "拒绝" in page


def test_filters_by_person_action_station_and_beijing_dates(client):
    by_li = listed(client, "?actor=li")
    assert "订制印章" in by_li and "吊销安装" not in by_li
    revokes = listed(client, "?action=revoke")
    assert "i-stolen" in revokes and "登记站点" not in revokes
    station = listed(client, "?subject=511302001001")
    assert "登记站点" in station and "i-stolen" not in station
    first_of_december = listed(client, "?since=2026-12-01&until=2026-12-01")
    assert "i-stolen" in first_of_december and "登记站点" not in first_of_december  # 17:00 UTC is the next day here


def test_a_wrong_date_is_named_and_ignored(client):
    page = client.get("/admin/audit?since=2026-13-45").get_data(as_text=True)
    assert "不是有效日期" in page and "登记站点" in listed(client, "?since=2026-13-45")


def test_the_csv_holds_what_the_filters_select_in_chinese(client):
    response = client.get("/admin/audit.csv?actor=wang")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["时间（北京时间）", "操作人", "操作"]
    assert sorted(r[2] for r in rows[1:]) == ["吊销安装", "登记站点"]
    assert all(r[1] == "王主任（wang）" for r in rows[1:])  # the real name with the login


def test_pages_keep_the_filters(client):
    for n in range(60):
        AuditEntry.create(actor="wang", action="new_code", subject=f"s-{n}", outcome="ok")
    page = client.get("/admin/audit?actor=wang").get_data(as_text=True)
    assert "/admin/audit?page=2&amp;actor=wang" in page
    second = listed(client, "?actor=wang&page=2")
    assert "订制印章" not in second and "吊销安装" in second  # li's entry filtered out, wang's oldest on page 2
