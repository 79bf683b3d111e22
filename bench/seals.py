"""Issue 6's benchmark: the time to seal one receipt (the first, which loads pyHanko, and the next ones),
the size of a sealed receipt PDF, and a serving village node's RSS idle and after sealing over HTTP.

The tree is the demo's (city, county, township, village holding a 业务专用章), made in a temporary dir.
"""

from __future__ import annotations

import re
import statistics
import tempfile
import time
from pathlib import Path

import requests

from harness.servers import free_port
from node.cli.demo import PASSWORD, SEAL_PIN, prepare
from node.runtime import Node
from node.seals.sealing import seal_document, usable_seals
from storage.database import close
from storage.models import Application, Operator

from .serving import IDLE_S, rss_mb, served

SEALS = 20


def _timed_seals(node: Node) -> tuple[list[float], int]:
    """Milliseconds per sealing, in process (PIN unlock, two renders, QR signature, PAdES, the event)."""
    operator = Operator.get(Operator.username == "cun.agent")
    seal_id = usable_seals(node)[0].seal_id
    number = Application.select(Application.number).first().number
    times, size = [], 0
    for _ in range(SEALS):
        started = time.perf_counter()
        sealed = seal_document(node, operator=operator, pin=SEAL_PIN, seal_id=seal_id, number=number, kind="receipt")
        times.append((time.perf_counter() - started) * 1000)
        size = len(sealed.pdf)
    return times, size


def _csrf(session: requests.Session, url: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', session.get(url, timeout=10).text).group(1)


def _serving_rss(data_dir: Path) -> tuple[float, float]:
    """The serving node's RSS when idle, and after five receipts were sealed over HTTP, in MB."""
    with served(data_dir) as (process, base, _):
        time.sleep(IDLE_S)
        idle = rss_mb(process.pid)
        agent = requests.Session()
        login = {"username": "cun.agent", "password": PASSWORD, "csrf_token": _csrf(agent, f"{base}/login")}
        agent.post(f"{base}/login", data=login, timeout=10)
        number = re.search(r'href="/work/a/([^"/]+)"', agent.get(f"{base}/work/", timeout=10).text).group(1)
        page = agent.get(f"{base}/work/a/{number}", timeout=10).text
        seal_id = re.search(r'<option value="([^"]+-S\d+)"', page).group(1)
        for _ in range(5):
            form = {"csrf_token": _csrf(agent, f"{base}/work/a/{number}"), "seal": seal_id, "pin": SEAL_PIN}
            assert agent.post(f"{base}/work/a/{number}/seal/receipt.pdf", data=form, timeout=60).ok
        return idle, rss_mb(process.pid)


def report() -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        configs = prepare(Path(tmp) / "tree", free_port())
        village = configs[-1]
        node = Node.from_config(village)
        times, size = _timed_seals(node)
        close()
        idle, after = _serving_rss(village.data_dir)
    warm = times[1:]
    return [
        f"Seals: {SEALS} receipts sealed in process (PIN, render ×2, QR signature, PAdES, seal.used)",
        f"{'seal one receipt, first (loads pyHanko)':<40} {times[0]:6.0f} ms",
        f"{'seal one receipt, next: p50 / max':<40} {statistics.median(warm):6.0f} / {max(warm):.0f} ms"
        "  (target < 300)",
        f"{'sealed receipt PDF (A4)':<40} {size / 1024:6.1f} KB  (target < 200)",
        f"{'serve: RSS idle, before any sealing':<40} {idle:6.1f} MB",
        f"{'serve: RSS after 5 receipts sealed':<40} {after:6.1f} MB",
    ]


if __name__ == "__main__":
    print("\n".join(report()))
