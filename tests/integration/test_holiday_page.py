"""The calendar past 2026 on a real county: from 1 October its admin is told next year's holiday table is
missing; a year typed on the page is checked (a date that does not exist, a make-up workday on a weekday,
a day both off and worked) and refused in words with nothing published; a good one is published as a new
version, and a 20-day promise across New Year is recomputed and no longer provisional."""

from __future__ import annotations

import datetime as dt

import pytest

from harness.web import login, token
from node.rules.holidays import build_table, next_year_missing
from storage.models import EventRecord
from web import create_app

DAYS_OFF_2027 = "2027-01-01 至 2027-01-03\n2027-02-06 至 2027-02-14\n2027-04-05\n2027-05-01 至 2027-05-05"
WORKDAYS_2027 = "2027-02-20\n2027-04-25"


@pytest.fixture
def admin(county_node):
    client = create_app(node=county_node).test_client()
    login(client, "wang", "county-admin-1")
    return client


def test_next_year_is_due_from_the_first_of_october():
    table = build_table(set(), set(), {2026}, 1)
    assert next_year_missing(table, dt.date(2026, 9, 30)) is None
    assert next_year_missing(table, dt.date(2026, 10, 1)) == 2027
    assert next_year_missing(build_table(set(), set(), {2026, 2027}, 2), dt.date(2026, 12, 4)) is None


def test_a_bad_year_is_refused_in_words_and_nothing_is_published(admin, county_node):
    year = county_node.now().year + 1
    before = EventRecord.select().where(EventRecord.type == "holiday.published").count()
    page = admin.post(
        "/admin/holidays",
        data={
            "csrf_token": token(admin, "/admin/holidays"),
            "year": year,
            "days_off": f"{year}-02-30\n{year}-05-01 至 {year}-05-05",
            "workdays": f"{year}-05-03\n{year}-01-04",
            "action": "publish",
        },
    ).get_data(as_text=True)
    assert "不是 YYYY-MM-DD 格式的日期" in page and "尚未发布" in page
    assert EventRecord.select().where(EventRecord.type == "holiday.published").count() == before


def test_a_year_checked_then_published_ends_a_provisional_promise(admin, county_node):
    from harness.cases import file
    from node.cases.intake import transition
    from storage.models import Application

    today = county_node.now().date()
    assert f"{today.year + 1} 年的节假日表尚未发布" in admin.get("/admin/").get_data(as_text=True)
    number = file(county_node, token="promise")
    transition(county_node.events, number, "application.accepted", {"by": "zhou"})
    row = Application.get_by_id(number)
    crosses = row.due is not None and row.due.year > today.year
    form = {
        "csrf_token": token(admin, "/admin/holidays"),
        "year": 2027,
        "days_off": DAYS_OFF_2027,
        "workdays": WORKDAYS_2027,
    }
    checked = admin.post("/admin/holidays", data={**form, "action": "check"}).get_data(as_text=True)
    assert "检查通过" in checked and "放假 18 天" in checked
    assert not EventRecord.select().where(EventRecord.type == "holiday.published").exists()
    published = admin.post("/admin/holidays", data={**form, "action": "publish"}).get_data(as_text=True)
    assert "已发布第 2 版节假日表" in published and "2027" in published
    assert county_node.reference.holidays().covers(2027)
    if crosses:  # a promise across New Year was provisional; with 2027 known it is not
        assert not Application.get_by_id(number).due_provisional
