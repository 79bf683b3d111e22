"""容缺受理 in the real chromium at 1366×768, on a served county hub: the clerk checks each material, is told on
the same page when a key one is missing, accepts with one material 容缺 and prints the 容缺受理承诺书; weeks
later (the same data served with its clock ahead) the page and the queue warn, and the material is recorded.
`ONETRIP_SCREENSHOTS=DIR` keeps the check's screenshot as DIR/deferral.png (docs/screenshots/ holds the last)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from harness.browser import chromium
from harness.cases import RESIDENT
from harness.servers import free_port, start, stop
from harness.tree import open_node
from node.cases.intake import file_for_resident, new_request_token
from node.config import NodeConfig
from provisioning.operators import create_operator
from storage.database import db

ITEM = "11511302MB10060680-0002"  # 耕地地力保护补贴申报: two of its three materials may be deferred
CONTRACT = "农村土地承包经营权证"
WEEKS_S = 4 * 7 * 24 * 3600


@pytest.fixture
def county(county_template, tmp_path):
    """A county hub's data with a clerk and an application filed at its hall, not yet served."""
    data = tmp_path / "county"
    shutil.copytree(county_template.county.data_dir, data)
    node = open_node(NodeConfig(data))
    create_operator(
        node.events, node.identity.station, username="zhou", name="周科员", role="clerk", password="clerk-pass-1"
    )
    (number,) = file_for_resident(
        node,
        node.reference.catalogue(),
        item_code=ITEM,
        applicant=RESIDENT,
        consent=True,
        operator="zhou",
        request_token=new_request_token(),
        now=node.now(),
    )
    db.close()
    return data, number


def serve(data: Path, clock_shift_s: int = 0):
    port = free_port()
    return start(["serve", "--data", str(data)], port, clock_shift_s=clock_shift_s), f"http://127.0.0.1:{port}"


def log_in(page, base: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "zhou")
    page.fill("input[name=password]", "clerk-pass-1")
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_a_clerk_accepts_with_a_material_deferred_and_is_warned_when_it_is_late(county, tmp_path):
    data, number = county
    process, base = serve(data)
    try:
        with chromium(tmp_path / "profile") as context:
            page = context.new_page()
            page.set_viewport_size({"width": 1366, "height": 768})
            log_in(page, base)
            page.goto(f"{base}/work/a/{number}")
            check = page.locator("fieldset.acceptance")
            expect(check).to_contain_text("受理前逐项核对材料")
            check.get_by_label("申请人居民身份证：未收到").check()
            check.get_by_label(f"{CONTRACT}：容缺").check()
            check.get_by_label("惠民惠农财政补贴“一卡通”存折或银行卡：复印件").check()
            assert check.get_by_label("申请人居民身份证：容缺").count() == 0  # a key material cannot be deferred
            page.get_by_role("button", name="受理", exact=True).click()
            refusal = page.get_by_role("alert").first
            expect(refusal).to_contain_text("申请人居民身份证尚未收到，不能受理")
            expect(check.get_by_label(f"{CONTRACT}：容缺")).to_be_checked()  # the ticks kept
            assert page.evaluate("document.documentElement.scrollWidth") <= 1366  # no sideways scrolling
            if target := os.environ.get("ONETRIP_SCREENSHOTS"):
                check.scroll_into_view_if_needed()
                page.screenshot(path=str(Path(target) / "deferral.png"))

            check.get_by_label("申请人居民身份证：原件").check()
            page.locator("input[name=deferral_days]").fill("10")
            with page.expect_navigation():
                page.get_by_role("button", name="受理", exact=True).click()
            facts = page.locator("table.facts")
            expect(facts).to_contain_text(f"{CONTRACT}：待补")
            with page.expect_popup() as popup:
                page.get_by_role("button", name="打印容缺承诺书").click()
            assert "/print/deferral.pdf" in popup.value.url
            page.goto(f"{base}/work/?state=deferred")
            expect(page.locator("table.list")).to_contain_text(number)
            expect(page.locator("table.list")).to_contain_text("容缺 1 项待补")
    finally:
        stop(process)

    process, base = serve(data, clock_shift_s=WEEKS_S)  # four weeks on: past the ten working days
    try:
        with chromium(tmp_path / "profile-later") as context:
            page = context.new_page()
            page.set_viewport_size({"width": 1366, "height": 768})
            log_in(page, base)
            page.goto(f"{base}/work/")
            expect(page.get_by_text("1 件容缺受理的办件已过补齐期限仍未补齐材料")).to_be_visible()
            expect(page.locator("table.list")).to_contain_text("容缺 1 项已逾期")
            page.goto(f"{base}/work/a/{number}")
            expect(page.get_by_role("alert").first).to_contain_text("已超过补齐期限")
            page.get_by_label(CONTRACT, exact=True).check()
            with page.expect_navigation():
                page.get_by_role("button", name="补齐容缺材料").click()
            expect(page.locator("table.facts")).to_contain_text("（逾期补齐）")
            assert page.get_by_text("已超过补齐期限").count() == 0
    finally:
        stop(process)
