"""差评整改 in headless Chromium at a real `onetrip serve` of a county, at 1366×768: a clerk finds the case a
差评 opened, records 核实, 整改 and 报告 by its forms, sees the resident's phone only at the 回访, and the
case closes with the 回访.

The case page's screenshot at the 回访 is written to `$SCREENSHOT_DIR` when it is set:
`SCREENSHOT_DIR=docs/screenshots pytest tests/e2e/test_rectification_browser.py` renews
docs/screenshots/rectification.png."""

from __future__ import annotations

import datetime as dt
import os
import shutil

import pytest

from harness.browser import chromium, log_in
from harness.cases import RESIDENT, file
from harness.servers import free_port, start, stop
from node.cases.intake import transition
from node.cases.ratings import rate
from node.hub.callbacks import DRAW_ON_DAY, draw_month
from node.rules.callbacks import month_days, month_of
from provisioning.region import CHINA
from storage.database import db

PHONE = RESIDENT.phone.replace(" ", "")


@pytest.fixture
def served(county_node):
    """The provisioned county with a case rated 非常不满意 and its rectification opened, served on loopback."""
    number = file(county_node)
    for step, payload in (
        ("application.accepted", {"by": "zhou"}),
        ("application.decided", {"by": "zhou", "approved": True}),
        ("application.delivered", {"by": "li"}),
    ):
        transition(county_node.events, number, step, payload)
    rate(county_node.events, number, "very_dissatisfied", ["materials", "attitude"], "同一份证明交了两次", "query")
    assert county_node.follow_up() == 1
    month = month_of(county_node.now().astimezone(CHINA).date())
    first, last = month_days(month)
    assert draw_month(county_node, month, last + dt.timedelta(days=DRAW_ON_DAY)) == 1  # as the month's job will
    db.close()
    port = free_port()
    process = start(["serve", "--data", str(county_node.config.data_dir)], port)
    yield f"http://127.0.0.1:{port}", number, month
    stop(process)


def test_a_clerk_takes_a_rectification_through_its_steps_and_the_revisit_closes_it(served, tmp_path):
    server, number, _ = served
    with chromium(tmp_path / "profile") as context:
        page = context.new_page()
        log_in(page, server, "zhou", "clerk-pass-1")
        page.get_by_role("link", name="整改回访").click()
        row = page.locator("table.list tbody tr", has_text=number)
        assert "待核实" in row.inner_text() and "非常不满意" in row.inner_text()
        row.get_by_role("link", name=number).click()

        page.get_by_label("属实", exact=True).check()
        page.get_by_label("核实情况").fill("窗口让群众重复提交了户籍证明")
        page.get_by_role("button", name="记录核实").click()
        assert PHONE not in page.locator("main").inner_text()
        page.get_by_label("整改情况").fill("一次性告知单补上遗漏的材料，窗口人员约谈")
        page.get_by_role("button", name="记录整改").click()
        page.get_by_label("报告情况").fill("整改报告已报县政务服务管理局")
        page.get_by_role("button", name="记录报告").click()

        main = page.locator("main").inner_text()
        assert f"{RESIDENT.name}，{PHONE}" in main and "本次查看已记入操作记录" in main
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366
        page.get_by_label("已联系上").check()
        page.get_by_label("满意", exact=True).check()
        page.get_by_label("回访情况").fill("群众认可整改结果")
        page.screenshot(path=str(tmp_path / "rectification.png"), full_page=True)
        if os.environ.get("SCREENSHOT_DIR"):
            shutil.copy(tmp_path / "rectification.png", os.path.join(os.environ["SCREENSHOT_DIR"], "rectification.png"))
        page.get_by_role("button", name="记录回访").click()

        facts = page.locator("table.facts").inner_text()
        assert "已办结" in facts and "核实结论：属实" in facts
        assert page.locator("ol.timeline li").count() == 5
        page.get_by_role("link", name="← 差评整改").click()
        assert "没有办理中的整改案件" in page.locator("main").inner_text()


def test_a_clerk_calls_a_sampled_resident_back_from_the_month_list(served, tmp_path):
    server, number, month = served
    with chromium(tmp_path / "profile") as context:
        page = context.new_page()
        log_in(page, server, "zhou", "clerk-pass-1")
        page.goto(f"{server}/callbacks/")
        assert PHONE not in page.locator("main").inner_text()
        row = page.locator("table.list tbody tr", has_text=number)
        assert "未回访" in row.inner_text()
        page.screenshot(path=str(tmp_path / "callbacks.png"), full_page=True)
        row.get_by_role("link", name=f"回访 {number}").click()
        assert f"{RESIDENT.name}，{PHONE}" in page.locator("main").inner_text()
        page.get_by_label("已接通").check()
        page.get_by_label("不满意").check()
        page.get_by_label("多次跑").check()
        page.get_by_label("回访记录").fill("补材料跑了两趟")
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366
        page.screenshot(path=str(tmp_path / "call.png"), full_page=True)
        page.get_by_role("button", name="记录回访结果").click()
        row = page.locator("table.list tbody tr", has_text=number)
        assert "不满意（多次跑）：补材料跑了两趟" in row.inner_text() and "已完成" in row.inner_text()
        assert f"{month}（已接通 1/1）" in page.locator("main").inner_text()
        page.goto(f"{server}/dashboard/")
        assert page.locator("#callback-rate").inner_text() == "100.0%"
        page.screenshot(path=str(tmp_path / "board.png"), full_page=True)
        if os.environ.get("SCREENSHOT_DIR"):
            for name in ("callbacks", "call", "board"):
                shutil.copy(tmp_path / f"{name}.png", os.path.join(os.environ["SCREENSHOT_DIR"], f"look-{name}.png"))
