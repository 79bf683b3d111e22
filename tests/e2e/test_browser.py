"""An agent at a real `onetrip serve`, in headless Chromium: log in, file a 一件事 through the form, upload a
scan, print the receipt, find the applications in the queue.

Debian's `chromium` is driven through Playwright with `executable_path`; `playwright install` cannot
download here. `make test` installs the package; in CI a missing browser fails the test, elsewhere it skips.
"""

from __future__ import annotations

import io
import re
import struct
import zlib

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from harness.browser import chromium
from harness.servers import free_port, start, stop
from node.catalogue.data import sample_catalogue
from storage.database import db


@pytest.fixture
def browser_context(tmp_path):
    with chromium(tmp_path / "profile") as context:
        yield context


@pytest.fixture
def server(county_node):
    """The provisioned county (agent li) served by a real process on loopback."""
    data_dir = county_node.config.data_dir
    db.close()
    port = free_port()
    process = start(["serve", "--data", str(data_dir)], port)
    yield f"http://127.0.0.1:{port}"
    stop(process)


def png(width: int = 8, height: int = 8) -> bytes:
    """A real grey PNG, made here so the test needs no file."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def test_an_agent_files_a_bundle_uploads_a_scan_prints_the_receipt_and_finds_it_in_the_queue(
    server, browser_context, tmp_path
):
    catalogue = sample_catalogue()
    bundle = next(b for b in catalogue.bundles.values() if all(catalogue.item(c).proxy_allowed for c in b.item_codes))
    page = browser_context.new_page()
    page.goto(f"{server}/login")
    page.fill("input[name=username]", "li")
    page.fill("input[name=password]", "agent-pass-1")
    page.click("button[type=submit]")

    page.goto(f"{server}/work/catalogue")
    page.locator("li", has_text=bundle.name).get_by_role("link", name="代办一件事").click()
    page.fill("input[name=name]", "张秀英")
    page.fill("input[name=id_number]", "11010519491231002X")
    page.fill("input[name=phone]", "13800138000")
    page.fill("input[name=address]", "顺庆区搬罾街道青山村3组")
    page.check("input[name=consent]")
    page.get_by_role("button", name="提交办件").click()
    page.wait_for_url(re.compile(r"/work/a/"))
    number = page.url.rsplit("/", 1)[1]

    scan = tmp_path / "户口簿.png"
    scan.write_bytes(png())
    page.set_input_files("input[name=scan]", scan)
    material = page.locator("select[name=material] option").first.inner_text()
    with page.expect_navigation():
        page.get_by_role("button", name=re.compile("^上传")).click()
    assert page.locator("ul li a", has_text=material).count() == 1

    page.select_option("select[name=size]", "A5")
    with browser_context.expect_event("response", predicate=lambda r: "/print/receipt.pdf" in r.url) as printed:
        page.get_by_role("button", name="打印受理回执").click()
    receipt = printed.value  # opened in a new tab, in Chromium's PDF viewer
    assert receipt.ok and receipt.url.endswith("?size=A5")
    assert receipt.header_value("content-type") == "application/pdf"
    again = browser_context.request.get(receipt.url)  # the viewer stands in for the body: fetch the bytes
    pdf = PdfReader(io.BytesIO(again.body()))
    assert number in pdf.pages[0].extract_text() and "材料接收凭证" in pdf.pages[0].extract_text()
    assert [round(float(v)) for v in pdf.pages[0].mediabox[2:]] == [420, 595]

    page.goto(f"{server}/work/")
    queue = page.locator("table.list tbody").inner_text()
    assert number in queue
    assert queue.count("110***********002X") == len(bundle.item_codes)  # one application per item


def test_by_keyboard_a_refused_login_keeps_the_name_and_the_password_page_tells_its_rules_first(
    server, browser_context
):
    page = browser_context.new_page()
    page.goto(f"{server}/login")
    assert "连续输错密码 5 次" in page.locator("form").inner_text()  # the lockout is told before it happens
    expect(page.locator("input[name=username]")).to_be_focused()
    page.keyboard.type("li")
    page.keyboard.press("Tab")
    page.keyboard.type("not-the-password")
    with page.expect_navigation():  # the page answers at the same address: wait for the answer, not the URL
        page.keyboard.press("Enter")
    assert page.locator("[role=alert]").inner_text().startswith("用户名或密码错误")
    assert page.input_value("input[name=username]") == "li"  # only the password is typed again
    expect(page.locator("input[name=password]")).to_be_focused()
    page.keyboard.type("agent-pass-1")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server}/work/")  # an agent lands on the queue

    page.get_by_role("link", name="李代办").click()  # one's own name in the bar leads to the password page
    rules = page.locator("#password-rules").inner_text()
    assert all(rule in rules for rule in ("至少 10 位", "不能与用户名相同", "不能与原密码相同", "常见密码"))
    refused, saved = ("agent-pass-1",) * 3, ("agent-pass-1", "Qingshan-valley-7", "Qingshan-valley-7")
    for typed in (refused, saved):
        expect(page.locator("input[name=old]")).to_be_focused()  # on each showing, the old password's field
        for field in typed:
            page.keyboard.type(field)
            page.keyboard.press("Tab")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        if typed is refused:
            assert page.locator("[role=alert]").inner_text() == "没有保存：新密码不能与原密码相同"
    assert page.url == f"{server}/work/"
    assert page.locator("[role=status]").first.inner_text().startswith("新密码已保存")
