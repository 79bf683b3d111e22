"""A resident at a real `onetrip serve`, in headless Chromium at 1366×768, by keyboard only: the query page
answers with the right ID tail, refuses a wrong one, and locks the case after five.

`ONETRIP_SCREENSHOTS=DIR` keeps the answer's screenshot as DIR/query.png (docs/screenshots/ holds the last)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from harness.browser import chromium
from harness.cases import file
from harness.servers import free_port, start, stop
from node.cases.intake import transition
from node.rules import querycode
from storage.database import db
from storage.models import Application


@pytest.fixture
def served_case(county_node):
    """A case filed at the county, sent back for corrections, corrected and accepted; the county served."""
    number = file(county_node)
    steps = (
        ("application.corrections_requested", {"reason": "材料不全", "items": ["户口簿原件"]}),
        ("application.corrected", {}),
        ("application.accepted", {}),
    )
    for step, payload in steps:
        transition(county_node.events, number, step, {"by": "zhou", **payload})
    code = Application.get_by_id(number).query_code
    db.close()
    port = free_port()
    process = start(["serve", "--data", str(county_node.config.data_dir)], port)
    yield f"http://127.0.0.1:{port}", number, code
    stop(process)


def ask(page, base: str, code: str, tail: str) -> None:
    page.goto(f"{base}/query")
    page.wait_for_function("document.activeElement.name === 'code'")  # the code's field takes the focus
    page.keyboard.type(code)
    page.keyboard.press("Tab")
    page.keyboard.type(tail)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_a_resident_follows_the_case_and_a_guesser_is_locked_out(served_case, tmp_path):
    base, number, code = served_case
    with chromium(tmp_path / "profile") as context:
        page = context.new_page()
        page.set_viewport_size({"width": 1366, "height": 768})
        ask(page, base, querycode.grouped(code).lower(), "002x")
        assert page.locator("#state").inner_text() == "已受理，等待审查"
        facts = page.locator("table.facts").inner_text()
        assert number in facts and "张**" in facts and "承诺于" in facts
        steps = page.locator("table.list tbody").inner_text()
        assert re.search(r"要求补正", steps) and "zhou" not in steps and "11010519491231002X" not in page.content()
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366  # no sideways scrolling
        shot = tmp_path / "query.png"
        page.screenshot(path=shot)
        if target := os.environ.get("ONETRIP_SCREENSHOTS"):
            Path(target).mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, Path(target) / "query.png")

        for _ in range(5):
            ask(page, base, number, "1234")
            assert page.locator("[role=alert]").inner_text().startswith("没有查到")
            assert page.input_value("input[name=code]") == number  # only the tail is typed again
            assert page.evaluate("document.activeElement.name") == "id_tail"
        ask(page, base, number, "002X")
        assert "查询已锁定" in page.locator("[role=alert]").inner_text()
