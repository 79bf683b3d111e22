"""Sealing in the real chromium: a wrong PIN is said on the application's page, in words, with the cursor
back in the PIN field and no new tab; the right one saves the sealed paper as a file.
`ONETRIP_SCREENSHOTS=DIR` keeps the refusal's screenshot as DIR/wrong-pin.png (docs/screenshots/ holds the last)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from harness.browser import chromium
from harness.seals import PIN
from harness.servers import free_port, start, stop
from storage.database import db


@pytest.fixture
def village(seal_tree):
    db.close()
    port = free_port()
    process = start(["serve", "--data", str(seal_tree.village.data_dir)], port)
    yield f"http://127.0.0.1:{port}", seal_tree.number
    stop(process)


def test_a_wrong_pin_is_said_on_the_page_and_the_right_one_saves_the_sealed_receipt(village, tmp_path):
    base, number = village
    with chromium(tmp_path / "profile") as context:
        page = context.new_page()
        page.set_viewport_size({"width": 1366, "height": 768})
        page.goto(f"{base}/login")
        page.fill("input[name=username]", "li")
        page.fill("input[name=password]", "agent-pass-1")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        page.goto(f"{base}/work/a/{number}")
        page.fill("input[name=pin]", "999999")
        tabs = len(context.pages)
        page.get_by_role("button", name="盖章打印受理回执").click()
        outcome = page.locator(".seal-outcome")
        expect(outcome).to_contain_text("口令")
        assert "出错了" not in outcome.inner_text() and len(context.pages) == tabs  # in words, and no new tab
        assert page.evaluate("document.activeElement.name") == "pin"
        if target := os.environ.get("ONETRIP_SCREENSHOTS"):
            page.screenshot(path=str(Path(target) / "wrong-pin.png"))
        page.fill("input[name=pin]", PIN)
        with page.expect_download() as download:
            page.get_by_role("button", name="盖章打印受理回执").click()
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        assert saved.read_bytes().startswith(b"%PDF") and saved.suffix == ".pdf"
        expect(outcome).to_contain_text("已盖章")


def test_a_pages_one_form_has_its_first_field_focused(village, tmp_path):
    base, _ = village
    with chromium(tmp_path / "profile") as context:
        page = context.new_page()
        page.goto(f"{base}/login")
        page.fill("input[name=username]", "cun")
        page.fill("input[name=password]", "admin-pass-1")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        page.goto(f"{base}/admin/operators")
        assert page.evaluate("document.activeElement.name") == "username"  # type the new account at once
