"""In the real chromium: the county's clerk seals an uploaded licence as 电子证照 on the application's page (a
wrong PIN said there, the right one saves the sealed file, the page then lists it); the village agent finds the
notices its county could not be heard to send, and prints them. `ONETRIP_SCREENSHOTS=DIR` keeps the pages'
screenshots (docs/screenshots/ holds the last)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from harness.browser import chromium, log_in
from harness.seals import PIN, carry, county_decides
from harness.servers import free_port, start, stop
from node.cases.notices import queue_new
from node.rules.notices import print_due_ms
from provisioning.region import CHINA
from storage.database import db


def shot(page, name: str) -> None:
    if target := os.environ.get("ONETRIP_SCREENSHOTS"):
        page.screenshot(path=str(Path(target) / name))


@pytest.fixture
def serve():
    running = []

    def serving(config) -> str:
        db.close()
        port = free_port()
        running.append(start(["serve", "--data", str(config.data_dir)], port))
        return f"http://127.0.0.1:{port}"

    yield serving
    for process in running:
        stop(process)


def test_the_deciding_clerk_seals_a_licence_on_the_applications_page(seal_tree, serve, tmp_path):
    county_decides(seal_tree)
    base = serve(seal_tree.county)
    with chromium(tmp_path / "profile") as context:
        page = context.new_page()
        log_in(page, base, "zhou", "clerk-pass-1")
        page.goto(f"{base}/work/a/{seal_tree.number}")
        form = page.locator("form", has=page.get_by_role("button", name="盖章生成电子证照"))
        form.locator("input[name=pin]").fill("999999")
        form.get_by_role("button", name="盖章生成电子证照").click()
        expect(form.locator(".seal-outcome")).to_contain_text("口令")
        form.locator("input[name=pin]").fill(PIN)
        with page.expect_download() as download:
            form.get_by_role("button", name="盖章生成电子证照").click()
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        assert saved.read_bytes().startswith(b"%PDF") and "电子证照" in saved.name
        page.reload()
        expect(page.get_by_text("营业执照（电子证照，已盖章）")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366
        shot(page, "licence.png")


def test_the_village_agent_prints_the_notices_its_county_was_not_heard_to_send(seal_tree, serve, tmp_path):
    county_decides(seal_tree)  # accepted and approved at the county: 受理, 办结, 可领取
    village = carry(seal_tree, "county", "village", seal_tree.open("village").identity.station)
    two_days_ago = village.now().astimezone(CHINA).date() - dt.timedelta(days=2)
    at = int(dt.datetime.combine(two_days_ago, dt.time(10), CHINA).timestamp() * 1000)
    assert queue_new(village, village.reference.catalogue(), at, print_due_ms, filed_here=True) == 3
    base = serve(seal_tree.village)
    with chromium(tmp_path / "profile") as context:
        page = context.new_page()
        log_in(page, base, "li", "agent-pass-1")
        page.get_by_role("link", name="3 份办件通知未能以短信送达居民，请打印后交给居民").click()
        expect(page.get_by_role("heading", name="待打印的办件通知")).to_be_visible()
        assert page.locator("input[name=notice]:checked").count() == 3
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366
        shot(page, "notices.png")
        page.set_viewport_size({"width": 1024, "height": 768})
        assert page.evaluate("document.documentElement.scrollWidth") <= 1024
        with page.expect_response(lambda r: "/work/notices/print.pdf" in r.url) as printed:
            page.get_by_role("button", name="打印所选通知").click()  # shown in Chromium's PDF viewer, to print
        assert printed.value.ok and printed.value.header_value("content-type") == "application/pdf"
        page.goto(f"{base}/work/notices/")
        expect(page.get_by_text("没有待打印的通知")).to_be_visible()
