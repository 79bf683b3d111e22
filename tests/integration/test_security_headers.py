"""Every answer, page or API, carries the browser's security headers; no template runs inline script or style,
so the content security policy can forbid them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.web import login
from web import create_app

TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"
INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=|javascript:", re.I)


@pytest.fixture
def client(county_node):
    return create_app(node=county_node).test_client()


@pytest.mark.parametrize("path", ["/login", "/healthz", "/api/v1/status", "/no-such-page", "/api/v1/no-such"])
def test_every_answer_carries_the_security_headers(client, path):
    headers = client.get(path).headers
    policy = dict(part.strip().split(" ", 1) for part in headers["Content-Security-Policy"].split(";"))
    assert policy["script-src"] == "'self'" and policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'" and "unsafe-inline" not in policy["default-src"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"


def test_a_logged_in_page_carries_them_too(client):
    login(client, "wang", "county-admin-1")
    assert "frame-ancestors 'none'" in client.get("/admin/").headers["Content-Security-Policy"]


def test_no_template_has_inline_script_or_style():
    found = [
        f"{path.relative_to(TEMPLATES)}: {match.group(0)}"
        for path in TEMPLATES.rglob("*.html")
        for match in INLINE.finditer(path.read_text("utf-8"))
    ]
    assert found == []
