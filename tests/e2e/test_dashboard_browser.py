"""The county dashboard in headless Chromium after the demo tree has synced: an application filed at the
village, accepted and decided at the township, reaches the county, whose admin sees the figures, the
station, the township's last contact and a CSV Excel reads."""

from __future__ import annotations

import csv
import io
import os
import re

import pytest
from playwright.sync_api import expect

from app import main
from harness.browser import chromium
from harness.servers import free_run, start, stop
from harness.tree import open_node
from node.cases.intake import file_for_resident, transition
from node.catalogue.data import sample_catalogue
from node.cli import demo
from node.config import NodeConfig
from storage.database import db


@pytest.fixture
def tree(tmp_path):
    """The demo tree, with the township, the county and the city served by real processes."""
    base = tmp_path / "demo"
    demo.prepare(base, free_run(len(demo.TREE)))
    configs = {level: NodeConfig.load(base / level) for level in ("village", "township", "county", "city")}
    servers = [
        start(["serve", "--data", str(configs[level].data_dir)], configs[level].port)
        for level in ("township", "county", "city")
    ]
    yield configs
    db.close()
    for server in servers:
        stop(server)


def sync(config: NodeConfig) -> None:
    assert main(["sync", "--data", str(config.data_dir)]) == 0
    db.close()


def test_the_county_admin_sees_a_village_application_decided_at_the_township(tree, tmp_path):
    village = open_node(tree["village"])
    item = next(i for i in sample_catalogue().current() if i.proxy_allowed and i.promised_limit.days > 0)
    (number,) = file_for_resident(
        village,
        sample_catalogue(),
        item_code=item.code,
        applicant=demo.DEMO_RESIDENTS[0],
        consent=True,
        operator="cun.agent",
        request_token=os.urandom(16).hex(),
        now=village.now(),
    )
    db.close()
    sync(tree["village"])
    township = open_node(tree["township"])
    transition(township.events, number, "application.accepted", {"by": "town.clerk"})
    transition(township.events, number, "application.decided", {"by": "town.clerk", "approved": True})
    db.close()
    sync(tree["township"])

    with chromium(tmp_path / "profile") as browser:
        page = browser.new_page()
        refused = []  # what the content security policy blocked: nothing may be
        page.on(
            "console",
            lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None,
        )
        county = f"http://127.0.0.1:{tree['county'].port}"
        page.goto(f"{county}/login")
        page.fill("input[name=username]", "county.admin")
        page.fill("input[name=password]", demo.PASSWORD)
        page.click("button[type=submit]")
        page.get_by_role("link", name="统计看板").click()
        page.wait_for_url(re.compile(r"/dashboard/"))
        assert "截至" in page.locator("p.as-of").inner_text()
        assert page.locator("#on-time-rate").inner_text() == "100.0%"
        assert page.locator("figure svg").count() == 3
        stations = page.locator("#stations table").inner_text()
        assert "青山村便民服务代办点" in stations
        contacts = page.locator("#contacts table").inner_text()
        assert "搬罾街道便民服务中心" in contacts and "正常" in contacts
        assert item.name in page.locator("#items table").inner_text()
        if target := os.environ.get("ONETRIP_SCREENSHOTS"):
            page.set_viewport_size({"width": 1366, "height": 768})
            page.screenshot(path=f"{target}/dashboard.png")

        page.fill("input[name=station]", open_node(tree["village"]).identity.station)
        db.close()
        page.get_by_role("button", name="筛选").click()
        assert page.locator("#on-time-rate").inner_text() == "100.0%"
        with page.expect_download() as download:
            page.locator("#items a.csv").click()
        data = open(download.value.path(), "rb").read()
        assert data.startswith("\ufeff".encode())
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
        assert rows[0] == ["统计范围", "顺庆区政务服务中心"] and rows[1] == ["期间", "全部"]  # what it covers
        assert rows[2] == ["筛选", "站点：青山村便民服务代办点"] and rows[3][0] == "截至" and rows[4] == []
        assert rows[5][1] == "事项" and any(row[0] == item.code for row in rows[6:])
        page.set_viewport_size({"width": 1366, "height": 768})  # a county office's screen
        page.goto(f"{county}/admin/")  # the fleet page: its confirmations come from a static script
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366  # every column without scrolling
        assert "搬罾街道便民服务中心" in page.locator("table.list").inner_text()

        sync(tree["county"])  # up to the city, which sees its counties and drills down to one
        city = f"http://127.0.0.1:{tree['city'].port}"
        page.goto(f"{city}/login")
        page.fill("input[name=username]", "city.admin")
        page.fill("input[name=password]", demo.PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{city}/dashboard/")
        counties = page.locator("#counties table").inner_text()
        assert "顺庆区政务服务中心" in counties and "100.0%" in counties
        page.get_by_role("link", name="顺庆区政务服务中心").click()
        expect(page.get_by_role("heading", name="统计看板 · 顺庆区政务服务中心")).to_be_visible()
        assert (
            page.locator("#counties").count() == 0 and "青山村便民服务代办点" in page.locator("#stations").inner_text()
        )
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366
        if target := os.environ.get("ONETRIP_SCREENSHOTS"):
            page.goto(f"{city}/dashboard/")
            page.screenshot(path=f"{target}/dashboard-city.png", full_page=False)
        assert refused == []
