"""当场办结 in the real chromium: the authorised village's agent files a 即办 item, finishes it on the spot with
one button, and gets the 办结通知书 at once; a 秒办 allowance for a 71-year-old is refused on the form with
the rule's reason. `ONETRIP_SCREENSHOTS=DIR` keeps the screenshots (docs/screenshots/ holds the last)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from harness.browser import chromium, log_in
from harness.servers import free_port, start, stop
from storage.database import db

BIRTH_PLAN = "11511302MB1007079B-0003"  # 生育登记: 即办, delegated to the village
ALLOWANCE = "11511302MB10040469-0004"  # 高龄津贴: 秒办 for those 80 and over


@pytest.fixture
def village(seal_tree):
    db.close()
    port = free_port()
    process = start(["serve", "--data", str(seal_tree.village.data_dir)], port)
    yield f"http://127.0.0.1:{port}"
    stop(process)


def fill(page, name: str, id_number: str) -> None:
    page.fill("input[name=name]", name)
    page.fill("input[name=id_number]", id_number)
    page.fill("input[name=phone]", "13800138000")
    page.fill("input[name=address]", "青山村3组")
    page.check("input[name=consent]")


def test_an_agent_finishes_an_authorised_item_on_the_spot_and_is_told_why_an_allowance_is_refused(village, tmp_path):
    with chromium(tmp_path / "profile") as context:
        page = context.new_page()
        log_in(page, village, "li", "agent-pass-1")

        page.goto(f"{village}/work/new?item={ALLOWANCE}")
        fill(page, "王大爷", "511302195506010015")  # 71: not yet 80
        page.get_by_role("button", name=re.compile("提交")).click()
        expect(page.get_by_text(re.compile("不符合办理条件：.*未满 80 周岁"))).to_be_visible()
        if target := os.environ.get("ONETRIP_SCREENSHOTS"):
            page.screenshot(path=str(Path(target) / "ineligible.png"))

        page.goto(f"{village}/work/new?item={BIRTH_PLAN}")
        fill(page, "李小红", "511302199503010026")
        page.get_by_label(re.compile("代办说明")).fill("申请人在外务工，由其母亲递交材料，已电话核实")
        page.get_by_role("button", name=re.compile("提交")).click()
        expect(page.get_by_role("button", name="当场办结并打印办结通知书")).to_be_visible()
        expect(page.get_by_role("row", name=re.compile("代办说明 申请人在外务工"))).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366
        if target := os.environ.get("ONETRIP_SCREENSHOTS"):
            page.screenshot(path=str(Path(target) / "on-the-spot.png"))
        with page.expect_response(lambda r: r.url.endswith("/print/decision.pdf")) as paper:
            page.get_by_role("button", name="当场办结并打印办结通知书").click()
        assert paper.value.ok and paper.value.header_value("content-type") == "application/pdf"
        page.go_back()
        page.reload()
        expect(page.get_by_text("办结（准予）")).to_be_visible()
        expect(page.get_by_role("button", name="当场办结并打印办结通知书")).to_have_count(0)
