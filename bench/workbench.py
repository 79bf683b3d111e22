"""Issue 4's benchmark: the queue page and the search with 50,000 applications in a village's database,
the serving node's memory when idle with its scheduler running, and its cold start.

Applications are filed through the real intake (validation, encryption, events), 1,000 per transaction.
Server time is measured around the Flask test client's request, three runs of 200 requests each.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from harness.web import login
from node.cases.events import ATTACHED, case_stream, entity
from node.cases.intake import Applicant, file_application, new_request_token
from node.catalogue.data import sample_catalogue
from node.config import NodeConfig
from node.runtime import Node, initialise
from provisioning.operators import create_operator
from storage.database import close
from storage.models import Application
from web import create_app

from .records import applications
from .serving import IDLE_S, rss_mb, served

COUNT = int(os.environ.get("ONETRIP_BENCH_APPLICATIONS", 50_000))
BATCH = 1_000
REQUESTS = 200


def _fill(node: Node, count: int = COUNT, whole: bool = False) -> list[str]:
    """`count` of the workload's records filed through intake; `whole`, each with its agent, its note and its
    five materials as references (an attachment's event: name, hash, size), their bytes not held, as W1 wants."""
    catalogue = sample_catalogue()
    items = [i for i in catalogue.current() if i.proxy_allowed and not i.eligibility]  # no 秒办 conditions to meet
    rng, ids = random.Random(42), []
    records = applications(count)
    for start in range(0, count, BATCH):
        with node.events.transaction():
            for record in records[start : start + BATCH]:
                applicant = Applicant(record["applicant"], record["id_number"], record["phone"], record["address"])
                number = file_application(
                    node.events,
                    node.identity,
                    node.keys,
                    catalogue,
                    {},
                    item_code=rng.choice(items).code,
                    applicant=applicant,
                    consent=True,
                    operator=record["agent"] if whole else "cun.agent",
                    request_token=new_request_token(),
                    now=node.now(),
                    note=record["note"] if whole else "",
                )
                if whole:
                    _reference_materials(node, number, record["materials"], record["agent"])
                ids.append(record["id_number"])
    return ids


def _reference_materials(node: Node, number: str, materials: list[dict], agent: str) -> None:
    stream = case_stream(Application.get_by_id(number))
    for material in materials:
        payload = {"number": number, "material": material["name"], "blob": material["sha256"]}
        payload |= {"content_type": "image/jpeg", "size": material["size"], "by": agent}
        node.events.append(ATTACHED, entity(number), payload, stream=stream)


def _timed(client, paths: list[str]) -> list[float]:
    times = []
    for path in paths:
        started = time.perf_counter()
        assert client.get(path).status_code == 200
        times.append((time.perf_counter() - started) * 1000)
    return times


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _serve_figures(data_dir: Path) -> tuple[float, float]:
    """Cold start (process start → /healthz answers) and RSS after the idle wait, in seconds and MB."""
    with served(data_dir) as (process, _, cold):
        time.sleep(IDLE_S)
        return cold, rss_mb(process.pid)


def report() -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        config = NodeConfig(Path(tmp) / "village")
        initialise(config, level="village", name="青山村", region="511302001001", algorithm="ecdsa-p256-sha256")
        node = Node.from_config(config)
        create_operator(
            node.events, node.identity.station, username="li", name="李代办", role="agent", password="bench-pass-1"
        )
        started = time.perf_counter()
        ids = _fill(node)
        filled = time.perf_counter() - started
        client = create_app(node=node).test_client()
        login(client, "li", "bench-pass-1")
        rng = random.Random(7)
        # A page anywhere in the list: the one after a random application, as "下一页" links ask for it.
        positions = [
            f"{day.isoformat()}_{number}"
            for number, day in Application.select(Application.number, Application.filed_on).tuples()
        ]
        first, queue, search = [], [], []
        for _ in range(3):
            first += _timed(client, ["/work/"] * (REQUESTS // 4))
            queue += _timed(client, [f"/work/?older={rng.choice(positions)}" for _ in range(REQUESTS)])
            search += _timed(client, [f"/work/?q={rng.choice(ids)}" for _ in range(REQUESTS)])
        close()
        cold, rss = _serve_figures(config.data_dir)
    lines = [
        f"Workbench with {COUNT:,} applications (filed through intake in {filled:.0f} s, "
        f"{COUNT / filled:,.0f}/s), up to {3 * REQUESTS} requests each: server ms p50 / p95 (target p95 < 100)"
    ]
    for label, values in (
        ("queue, first page", first),
        ("queue, a page anywhere (keyset)", queue),
        ("search by full ID number", search),
    ):
        lines.append(f"{label:<40} {statistics.median(values):6.1f} / {_percentile(values, 0.95):6.1f}")
    lines.append(f"{'serve: cold start (target ≤ 1.5 s)':<40} {cold:6.2f} s")
    lines.append(f"{'serve: RSS idle, scheduler on (≤ 80 MB)':<40} {rss:6.1f} MB")
    return lines


if __name__ == "__main__":
    print("\n".join(report()))
