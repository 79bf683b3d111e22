"""Real `onetrip serve` processes on loopback for end-to-end tests."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_run(count: int) -> int:
    """A base port with `count` free ports after it, below the range the kernel hands out for outgoing
    connections: a tree provisioned once per session keeps its ports for minutes, during which thousands
    of client connections take ephemeral ports, and one of them must never be the port a node binds."""
    low = _ephemeral_low()
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20_000, low - count)
        if all(_free(base + i) for i in range(count)):
            return base
    raise RuntimeError("no run of free ports")


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default; elsewhere ports below it are as good


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def start(
    args: list[str],
    port: int,
    within_s: float = 20,
    clock_shift_s: int = 0,
    log: Path | None = None,
    settings: dict[str, str] | None = None,
) -> subprocess.Popen:
    """Run `python app.py ARGS` with ONETRIP_PORT and `settings` (more ONETRIP_… variables) set, its clock
    `clock_shift_s` ahead if given (`harness/shifted.py`); return once /healthz answers. Its output is read at
    `stop`, or written to
    `log` when given: a server answering thousands of requests would fill a pipe nobody reads, and hang."""
    output = log.open("w") if log else subprocess.PIPE
    entry = ["-m", "harness.shifted", str(clock_shift_s)] if clock_shift_s else [str(ROOT / "app.py")]
    process = subprocess.Popen(
        [sys.executable, *entry, *args],
        cwd=ROOT,
        stdout=output,
        stderr=output,
        text=True,
        env={**os.environ, "ONETRIP_PORT": str(port), **(settings or {})},
        start_new_session=True,  # its own process group: `demo`'s servers go down with it on a timeout
    )
    if log:
        output.close()  # the server holds its own copy
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return process
        except requests.ConnectionError:
            if process.poll() is not None:
                raise AssertionError(log.read_text() if log else process.stderr.read()) from None
            time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    raise AssertionError("server did not come up")


def settled(process: subprocess.Popen, quiet_s: float = 0.3, within_s: float = 30) -> None:
    """Return once a started server's CPU time has stood still for `quiet_s`: its start-up work is done (a
    node warms pyHanko and its fonts on a thread after /healthz answers, a second of CPU on a slow PC), so a
    benchmark's round is not measured beside it, nor the warm-up's CPU charged to the round. Where the kernel
    does not say (no /proc), at once."""
    stat = Path(f"/proc/{process.pid}/stat")
    if not stat.exists():
        return
    deadline, still_since, last = time.monotonic() + within_s, time.monotonic(), None
    while time.monotonic() < deadline:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        used = int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks, every thread's
        now = time.monotonic()
        if used != last:
            still_since, last = now, used
        elif now - still_since >= quiet_s:
            return
        time.sleep(0.05)


def stop(process: subprocess.Popen) -> tuple[str, str]:
    """Its output, unless it went to a log file (then empty)."""
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    return out or "", err or ""
