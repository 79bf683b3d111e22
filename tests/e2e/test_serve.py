"""`onetrip serve` and `onetrip demo` as real processes on loopback."""

from __future__ import annotations

import io
import re

import requests
from pypdf import PdfReader

from app import main
from harness.servers import free_port, free_run, start, stop
from harness.web import csrf, logged_in
from node.cli.demo import PASSWORD, SEAL_PIN, TREE
from storage.database import db


def test_serve_answers_health_status_and_the_page_and_logs_structured_lines(tmp_path):
    data_dir = tmp_path / "township"
    assert (
        main(
            [
                "init",
                "--data",
                str(data_dir),
                "--level",
                "township",
                "--name",
                "搬罾街道便民服务中心",
                "--region",
                "511302001",
            ]
        )
        == 0
    )
    db.close()
    port = free_port()
    server = start(["serve", "--data", str(data_dir)], port)
    try:
        base = f"http://127.0.0.1:{port}"
        status = requests.get(f"{base}/api/v1/status", timeout=5).json()
        assert status["level"] == "township" and status["event_count"] == 2
        assert "搬罾街道便民服务中心" in requests.get(base + "/", timeout=5).text
    finally:
        out, err = stop(server)
    assert f"http://127.0.0.1:{port}/" in out
    station = status["station"]
    log_lines = [line for line in err.splitlines() if line.startswith("ts=")]
    assert log_lines and all(f"station={station} installation={status['installation']}" in line for line in log_lines)


def test_demo_provisions_the_whole_tree_once_and_serves_every_node(tmp_path):
    base_port = free_run(len(TREE))
    ports = range(base_port, base_port + 4)
    for run in range(2):
        demo = start(  # the first run provisions the whole tree: slow on a busy 2-core machine
            ["demo", "--dir", str(tmp_path / "demo"), "--base-port", str(base_port)], base_port + 3, within_s=120
        )
        try:
            statuses = [_wait_status(port) for port in ports]
            assert [s["level"] for s in statuses] == ["city", "county", "township", "village"]
            assert all(s["provisional"] is False for s in statuses)
            village = requests.get(f"http://127.0.0.1:{base_port + 3}/", timeout=5).text
            assert "青山村便民服务代办点" in village
            if run == 0:  # the village's two demo applications reach the city through the township and county
                assert _wait_applications(tmp_path / "demo" / "city", 2, within_s=60)
                _an_acceptance_at_the_township_reaches_the_village_within_a_minute(base_port, tmp_path / "demo")
                _the_village_receipt_carries_the_seal_verified_at_the_county_and_by_its_qr_at_the_city(base_port)
        finally:
            out, _ = stop(demo)
        assert f"http://127.0.0.1:{base_port}/" in out and "cun.agent" in out and "onetrip-demo" in out
        assert SEAL_PIN in out
        if run == 0:
            first = (tmp_path / "demo" / "village" / "identity.json").read_text()
    assert (tmp_path / "demo" / "village" / "identity.json").read_text() == first, "the second run reuses the tree"


def _wait_applications(data_dir, count: int, within_s: float) -> bool:
    import sqlite3
    import time

    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        with sqlite3.connect(data_dir / "onetrip.db") as conn:
            if conn.execute("SELECT COUNT(*) FROM application").fetchone()[0] >= count:
                return True
        time.sleep(1)
    return False


def _an_acceptance_at_the_township_reaches_the_village_within_a_minute(base_port: int, demo) -> None:
    import sqlite3
    import time

    township = f"http://127.0.0.1:{base_port + 2}"
    clerk = logged_in(township, "town.clerk", PASSWORD)
    number = re.search(r'href="/work/a/([^"/]+)"', clerk.get(f"{township}/work/", timeout=5).text).group(1)
    page = clerk.get(f"{township}/work/a/{number}", timeout=5).text
    check = {name: "original" for name in set(re.findall(r'name="(check\.[^"]+)"', page))}  # each material received
    accepted = clerk.post(
        f"{township}/work/a/{number}/application.accepted",
        data={"csrf_token": csrf(clerk, f"{township}/work/a/{number}"), **check},
        timeout=10,
    )
    assert accepted.ok
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with sqlite3.connect(demo / "village" / "onetrip.db") as conn:
            (state,) = conn.execute("SELECT state FROM application WHERE number = ?", (number,)).fetchone()
        if state == "accepted":
            return
        time.sleep(1)
    raise AssertionError(f"the township's acceptance of {number} did not reach the village within a minute")


def _wait_status(port: int) -> dict:
    import time

    for _ in range(100):
        try:
            return requests.get(f"http://127.0.0.1:{port}/api/v1/status", timeout=2).json()
        except requests.ConnectionError:
            time.sleep(0.1)
    raise AssertionError(f"node on port {port} did not answer")


def _the_village_receipt_carries_the_seal_verified_at_the_county_and_by_its_qr_at_the_city(base_port: int) -> None:
    village, county = f"http://127.0.0.1:{base_port + 3}", f"http://127.0.0.1:{base_port + 1}"
    agent = logged_in(village, "cun.agent", PASSWORD)
    number = re.search(r'href="/work/a/([^"/]+)"', agent.get(f"{village}/work/", timeout=5).text).group(1)
    page = agent.get(f"{village}/work/a/{number}", timeout=5).text
    seal_id = re.search(r'<option value="([^"]+-S\d+)"', page).group(1)
    sealed = agent.post(
        f"{village}/work/a/{number}/seal/receipt.pdf",
        data={"csrf_token": csrf(agent, f"{village}/work/a/{number}"), "seal": seal_id, "pin": SEAL_PIN},
        timeout=30,
    )
    assert sealed.status_code == 200 and sealed.content.startswith(b"%PDF-")
    anyone = requests.Session()
    answer = anyone.post(
        f"{county}/verify",
        data={"csrf_token": csrf(anyone, f"{county}/verify")},
        files={"pdf": ("receipt.pdf", sealed.content, "application/pdf")},
        timeout=30,
    )
    assert "印章有效" in answer.text and "青山村便民服务代办点" in answer.text
    qr = PdfReader(io.BytesIO(sealed.content)).metadata.subject  # the QR code's text, as the PDF carries it
    city = f"http://127.0.0.1:{base_port}"
    answer = anyone.post(f"{city}/verify", data={"csrf_token": csrf(anyone, f"{city}/verify"), "qr": qr}, timeout=30)
    assert "二维码有效" in answer.text and "青山村便民服务代办点" in answer.text  # the seal's record came up by sync
