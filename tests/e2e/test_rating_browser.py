"""好差评 in headless Chromium at a real `onetrip serve`: the agent opens the rating page, the resident rates
with the keyboard (the reasons appear for a low grade), the page thanks them, and the link works once.

The rating page's screenshot at 1366×768 (a county office's screen) is written to `$SCREENSHOT_DIR` when it
is set: `SCREENSHOT_DIR=docs/screenshots pytest tests/e2e/test_rating_browser.py` renews
docs/screenshots/rating.png."""

from __future__ import annotations

import os
import re
import shutil

import pytest

from harness.browser import chromium
from harness.cases import file
from harness.servers import free_port, start, stop
from node.cases.intake import transition
from storage.database import db


@pytest.fixture
def served(county_node):
    """The provisioned county with one application delivered, served by a real process on loopback."""
    number = file(county_node)
    for step, payload in (
        ("application.accepted", {"by": "zhou"}),
        ("application.decided", {"by": "zhou", "approved": True}),
        ("application.delivered", {"by": "li"}),
    ):
        transition(county_node.events, number, step, payload)
    db.close()
    port = free_port()
    process = start(["serve", "--data", str(county_node.config.data_dir)], port)
    yield f"http://127.0.0.1:{port}", number
    stop(process)


def test_the_resident_rates_on_the_page_the_agent_opens_by_keyboard_and_only_once(served, tmp_path):
    server, number = served
    with chromium(tmp_path / "profile") as context:
        page = context.new_page()
        page.set_viewport_size({"width": 1366, "height": 768})
        page.goto(f"{server}/login")
        page.fill("input[name=username]", "li")
        page.fill("input[name=password]", "agent-pass-1")
        page.click("button[type=submit]")
        page.goto(f"{server}/work/a/{number}")
        page.get_by_role("button", name="请群众评价").click()
        page.wait_for_url(re.compile(r"/rate/"))
        rating_url = page.url
        assert page.locator("header nav").count() == 0  # nothing of the agent's workbench on the resident's page

        reasons = page.locator("fieldset.reasons")
        assert not reasons.is_visible()  # asked only for a low grade
        page.get_by_text("非常满意", exact=True).click()
        for _ in range(3):  # the grades are one radio group: the arrow keys move along it
            page.keyboard.press("ArrowRight")
        assert page.locator("input[name=grade]:checked").get_attribute("value") == "dissatisfied"
        assert reasons.is_visible()
        page.keyboard.press("Tab")  # to the first reason
        page.keyboard.press("Space")
        page.get_by_label("材料要求多或反复跑").check()
        page.fill("textarea[name=comment]", "同一份证明交了两次")
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366
        shot = page.screenshot(path=str(tmp_path / "rating.png"))
        assert shot.startswith(b"\x89PNG")
        if os.environ.get("SCREENSHOT_DIR"):
            shutil.copy(tmp_path / "rating.png", os.path.join(os.environ["SCREENSHOT_DIR"], "rating.png"))

        page.get_by_role("button", name="提交评价").click()
        page.wait_for_url(re.compile(r"/rate/thanks"))
        assert "谢谢您的评价" in page.locator("h1").inner_text()

        page.goto(rating_url)  # the link works once
        assert "已使用" in page.locator("main").inner_text()
        page.goto(f"{server}/work/a/{number}")
        facts = page.locator("table.facts").inner_text()
        assert "不满意（办事时间长、材料要求多或反复跑）：同一份证明交了两次" in facts
        assert "群众本人，评价页面" in page.locator("ol.timeline").inner_text()
        assert page.get_by_role("button", name="请群众评价").count() == 0
