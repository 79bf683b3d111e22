"""`onetrip serve` and `onetrip demo` as real processes on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from app import main
from storage.database import db

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(args: list[str], port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "ONETRIP_PORT": str(port)},
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return process
        except requests.ConnectionError:
            if process.poll() is not None:
                raise AssertionError(process.stderr.read()) from None
            time.sleep(0.1)
    process.kill()
    raise AssertionError("server did not come up")


def stop(process: subprocess.Popen) -> tuple[str, str]:
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    return out, err


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
