"""Syncing by hand: `onetrip sync` prints each outcome once, in Chinese, and the home page's "立即同步"
returns at once and shows the round under way, then its outcome, even when the parent has frozen."""

from __future__ import annotations

import dataclasses
import socket
import subprocess
import sys
import time

from harness.browser import chromium
from harness.servers import ROOT, free_port, start, stop
from harness.tree import open_node
from harness.web import login, token
from node.cli import demo
from provisioning.identity import save_identity
from storage.database import db
from web import create_app

THREE_DAYS_S = 3 * 24 * 3600


def _sync(cluster, *shift: str) -> subprocess.CompletedProcess:
    entry = ["-m", "harness.shifted", *shift] if shift else ["app.py"]
    return subprocess.run(
        [sys.executable, *entry, "sync", "--data", str(cluster.configs["village"].data_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_sync_command_prints_a_failure_once_in_chinese(cluster):
    cluster.halt("township")
    done = _sync(cluster)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("onetrip: 连不上上级"), done.stderr


def test_the_sync_command_prints_a_success_once_with_what_the_parent_said_of_the_clock(cluster):
    done = _sync(cluster, str(THREE_DAYS_S))
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.count("\n") == 1 and done.stdout.startswith("同步完成")
    assert "本机时钟比上级服务器快 3 天，请校准电脑时间" in done.stdout


def test_sync_now_returns_at_once_on_a_frozen_parent_and_the_page_then_shows_why(cluster):
    with socket.create_server(("127.0.0.1", 0), backlog=16) as frozen:
        config = dataclasses.replace(cluster.configs["village"], sync_answer_timeout_s=2)
        node = open_node(config)
        node.identity = dataclasses.replace(node.identity, parent_url=f"http://127.0.0.1:{frozen.getsockname()[1]}")
        client = create_app(node=node).test_client()
        login(client, "cun.agent", demo.PASSWORD)

        started = time.monotonic()
        answer = client.post("/sync", data={"csrf_token": token(client, "/")})
        assert answer.headers["Location"].endswith("/#sync")
        page = client.get("/").get_data(as_text=True)
        assert 'id="sync-progress"' in page and "hidden>" not in page.split('id="sync-progress"')[1][:200]
        assert "sync-now.js" in page and "<script>" not in page
        status = client.get("/sync/status").get_json()
        assert status["running"] and status["message"] == "正在与上级同步…"  # back before the parent's silence ends
        assert (
            client.post("/sync", data={"csrf_token": token(client, "/")}).status_code == 302
        )  # a second click returns at once too

        assert node.syncing.acquire(timeout=10)  # the round ends on its own, within the silence allowed
        node.syncing.release()
        took_s = time.monotonic() - started
    status = client.get("/sync/status").get_json()
    assert not status["running"] and "没有回应" in status["message"] and took_s < 5
    assert "没有回应" in client.get("/").get_data(as_text=True)
    db.close()


def test_in_the_browser_sync_now_comes_back_at_once_and_the_page_follows_the_round_to_its_end(cluster, tmp_path):
    with socket.create_server(("127.0.0.1", 0), backlog=16) as frozen:
        config = cluster.configs["village"]
        node = open_node(config)
        save_identity(config.data_dir, dataclasses.replace(node.identity, parent_url=_url(frozen)))
        db.close()
        port = free_port()
        process = start(
            ["serve", "--data", str(config.data_dir)], port, settings={"ONETRIP_SYNC_ANSWER_TIMEOUT_S": "3"}
        )
        try:
            with chromium(tmp_path / "profile") as browser:
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{port}/login")
                page.fill("input[name=username]", "cun.agent")
                page.fill("input[name=password]", demo.PASSWORD)
                page.click("button[type=submit]")
                page.goto(f"http://127.0.0.1:{port}/")
                page.click("text=立即同步")
                assert page.locator("#sync-progress").is_visible()  # back while the parent is still silent
                page.wait_for_selector("#sync-progress", state="hidden", timeout=10_000)  # reloaded at its end
                assert "没有回应" in page.locator("p.warning", has_text="上次同步失败").inner_text()
        finally:
            stop(process)


def _url(listener: socket.socket) -> str:
    return f"http://127.0.0.1:{listener.getsockname()[1]}"
