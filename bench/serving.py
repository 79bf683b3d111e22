"""A node served as a real process for a benchmark: how long it takes to answer, and its memory."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from harness.servers import free_port

APP = Path(__file__).resolve().parents[1] / "app.py"
IDLE_S = 10  # long enough for the scheduler's first runs to settle


@contextmanager
def served(data_dir: Path, preexec_fn=None) -> Iterator[tuple[subprocess.Popen, str, float]]:
    """`onetrip serve` on a free port: the process, its base URL, and its cold start (start → /healthz).
    `preexec_fn` runs in the child before it starts (a benchmark puts it in a cgroup there)."""
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, str(APP), "serve", "--data", str(data_dir), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=preexec_fn,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.02)
        yield process, base, time.perf_counter() - started
    finally:
        process.terminate()
        process.wait(timeout=20)


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024
