"""`onetrip serve` and `onetrip demo` as real processes on loopback."""

from __future__ import annotations

import requests

from app import main
from storage.database import db
from tests.support.servers import free_port, start, stop


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


def test_demo_creates_a_station_on_first_run_and_serves_it_again_on_the_next(tmp_path):
    port = free_port()
    for _ in range(2):
        server = start(["demo", "--dir", str(tmp_path / "demo")], port)
        try:
            page = requests.get(f"http://127.0.0.1:{port}/", timeout=5)
            assert page.ok and "青山村便民服务代办点" in page.text
        finally:
            out, _ = stop(server)
        assert f"http://127.0.0.1:{port}/" in out
    assert len(list((tmp_path / "demo").iterdir())) == 1
