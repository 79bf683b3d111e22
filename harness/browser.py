"""Debian's `chromium`, headless, through Playwright (`playwright install` cannot download here)."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [  # headless comes from Playwright's `headless=True`
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _require_chromium() -> None:
    """A missing Chromium fails in CI and skips elsewhere."""
    if not os.access(CHROMIUM, os.X_OK):
        message = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium; `make test` does it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@contextmanager
def chromium(profile: Path):
    """A browser context with a fresh profile; a missing Chromium fails in CI and skips elsewhere."""
    _require_chromium()
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=ARGS, locale="zh-CN"
        )
        context.set_default_timeout(10_000)
        yield context
        context.close()


@contextmanager
def chromium_browser():
    """One browser for several people at once: each `new_context()` is a person with cookies of their own, as
    staff of different stations on 127.0.0.1 must be (a cookie does not tell ports apart)."""
    _require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


def log_in(page, base: str, username: str, password: str, width: int = 1366) -> None:
    """A person at a 1366×768 screen (unless `width` says otherwise) logs in with the keyboard."""
    page.set_viewport_size({"width": width, "height": 768})
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.keyboard.press("Enter")
