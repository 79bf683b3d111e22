"""A fresh village PC set up from the browser alone, in the real chromium against real servers on loopback:
the county registers the station on its page and saves the enrolment bundle; the station's `onetrip serve`
on an empty data dir opens the setup page, enrols from the bundle, writes the request the county accepts on
its fleet page, installs the grant and makes its first admin; then the seal is asked for by file and
installed, and a USB sync bundle goes to the county and its return comes back. No command for the station.
`ONETRIP_SCREENSHOTS=DIR` keeps the setup page as DIR/setup.png (docs/screenshots/ holds the last)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from harness.browser import chromium
from harness.seals import CREDIT_CODE
from harness.servers import free_port, start, stop
from storage.database import db

PIN = "864201"


@pytest.fixture
def county(county_node):
    """The provisioned county hub (admin wang) served by a real process; named `localhost`, so that the browser
    keeps its session cookie apart from the station's on 127.0.0.1, as two PCs' would be."""
    data_dir = county_node.config.data_dir
    db.close()
    port = free_port()
    process = start(["serve", "--data", str(data_dir)], port)
    yield f"http://localhost:{port}"
    stop(process)


@pytest.fixture
def station(tmp_path):
    """`onetrip serve` on a data dir that does not exist yet: a PC just installed."""
    port = free_port()
    data_dir = tmp_path / "station"
    process = start(["serve", "--data", str(data_dir)], port)
    yield f"http://127.0.0.1:{port}", data_dir
    stop(process)


def _saved(page: Page, click, folder: Path) -> Path:
    """Click what downloads a file and save it under its own name, as onto a USB stick."""
    with page.expect_download() as download:
        click()
    path = folder / download.value.suggested_filename
    download.value.save_as(path)
    return path


def _log_in(page: Page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_a_fresh_station_is_enrolled_from_a_usb_bundle_gets_its_seal_and_syncs_by_usb_without_a_terminal(
    county, station, tmp_path
):
    base, data_dir = station
    stick = tmp_path / "usb"
    stick.mkdir()
    with chromium(tmp_path / "profile") as context:
        hub = context.new_page()
        hub.set_viewport_size({"width": 1366, "height": 768})
        _log_in(hub, county, "wang", "county-admin-1")
        hub.goto(f"{county}/admin/register")
        hub.fill("input[name=name]", "青山村便民服务代办点")
        hub.select_option("select[name=level]", "village")
        hub.fill("input[name=region]", "511302001001")
        hub.get_by_role("button", name="登记并生成注册码").click()
        expect(hub.locator(".done")).to_contain_text("已登记")
        steps = hub.locator("ol.steps").inner_text()
        assert "设置页面" in steps and "onetrip enroll" not in steps  # the steps that work without a terminal
        bundle = _saved(hub, hub.get_by_role("button", name="下载离线注册包").click, stick)
        code = re.search(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{3}", bundle.name).group(0)

        # The station's PC: every page leads to the setup page.
        page = context.new_page()
        page.set_viewport_size({"width": 1366, "height": 768})
        page.goto(f"{base}/work/")
        assert page.url == f"{base}/setup/"
        page.get_by_label("村便民服务代办点").check()
        page.get_by_role("button", name="下一步").click()
        if target := os.environ.get("ONETRIP_SCREENSHOTS"):
            page.screenshot(path=str(Path(target) / "setup.png"))

        # A corrupt file is refused in words, and nothing is written.
        corrupt = stick / f"注册包-{code}.bundle.bak"
        corrupt.write_bytes(bundle.read_bytes()[:-40])
        page.set_input_files("input[name=bundle]", str(corrupt))
        page.get_by_role("button", name="用注册包注册").click()
        expect(page.locator(".error")).to_contain_text("注册包已损坏")
        assert not data_dir.exists() or not any(data_dir.iterdir())

        # The bundle as the county saved it: its name carries the code, nothing to type.
        page.set_input_files("input[name=bundle]", str(bundle))
        page.get_by_role("button", name="用注册包注册").click()
        expect(page.locator(".done")).to_contain_text("注册包已采用")
        request = _saved(page, page.get_by_role("link", name="保存注册请求文件").click, stick)

        # At the county: its fleet page accepts the request and gives the grant.
        hub.goto(f"{county}/admin/")
        hub.get_by_text("受理U盘带回的注册请求").click()
        hub.set_input_files("input[name=request]", str(request))
        grant = _saved(hub, hub.get_by_role("button", name="受理并下载证书回执").click, stick)

        page.set_input_files("input[name=grant]", str(grant))
        page.get_by_role("button", name="安装证书回执").click()
        expect(page.locator(".done")).to_contain_text("注册完成")
        page.fill("input[name=username]", "cun.admin")
        page.fill("input[name=name]", "王村长")
        page.fill("input[name=staff_no]", "C-001")
        page.fill("input[name=password]", "qingshan-2024!")
        page.fill("input[name=again]", "qingshan-2024?")
        page.get_by_role("button", name="建立账号并登录").click()
        expect(page.locator(".error")).to_contain_text("两次输入的密码不一致")
        page.fill("input[name=password]", "qingshan-2024!")
        page.fill("input[name=again]", "qingshan-2024!")
        page.get_by_role("button", name="建立账号并登录").click()
        expect(page.locator("header")).to_contain_text("王村长")  # logged in as the new admin
        page.goto(f"{base}/setup/")
        assert page.url == f"{base}/"  # the setup is over

        # The seal: ordered at the county, asked for here by file, granted there, installed here.
        station_code = (data_dir / "identity.json").read_text("utf-8").split('"station": "')[1].split('"')[0]
        hub.goto(f"{county}/admin/seals")
        hub.fill("input[name=station]", station_code)
        hub.select_option("select[name=kind]", "business")
        hub.fill("input[name=owner]", "青山村便民服务代办点")
        hub.fill("input[name=credit_code]", CREDIT_CODE)
        hub.fill("input[name=days]", "365")
        hub.get_by_role("button", name="订制").click()
        seal_id = re.search(r"\d{6}-S\d{4}", hub.locator(".done").inner_text()).group(0)
        page.goto(f"{base}/seals/mine")
        page.fill("input[name=seal]", seal_id)
        page.fill("input[name=pin]", PIN)
        page.fill("input[name=pin_again]", PIN)
        seal_request = _saved(page, page.get_by_role("button", name="不联网：生成申请文件（U盘带到县级）").click, stick)
        hub.goto(f"{county}/admin/seals")
        hub.set_input_files("input[name=request]", str(seal_request))
        seal_grant = _saved(hub, hub.get_by_role("button", name="受理并下载证书回执").click, stick)
        page.goto(f"{base}/seals/mine")
        page.set_input_files("input[name=grant]", str(seal_grant))
        page.get_by_role("button", name="安装", exact=True).click()
        expect(page.locator(".done")).to_contain_text(f"印章 {seal_id}")

        # A USB round: the station's bundle to the county, the county's return back.
        page.goto(f"{base}/sync/usb/")
        outgoing = _saved(page, page.get_by_role("button", name="导出同步包").click, stick)
        hub.goto(f"{county}/sync/usb/")
        hub.set_input_files("input[name=bundle]", str(outgoing))
        hub.get_by_role("button", name="导入").click()
        expect(hub.locator(".done")).to_contain_text("下级的同步包已导入")
        returned = _saved(hub, hub.locator(".done a.button").click, stick)
        page.set_input_files("input[name=bundle]", str(returned))
        page.get_by_role("button", name="导入").click()
        expect(page.locator(".done")).to_contain_text("回执包已导入")
        hub.goto(f"{county}/admin/operators")
        expect(hub.locator("main")).to_contain_text("王村长")  # the station's admin reached the county by USB
