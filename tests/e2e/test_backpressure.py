"""Backpressure between real processes on loopback: a saturated hub refuses with 503 and Retry-After at once
rather than queueing, and a station told busy comes back later, with jitter, losing nothing."""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from harness.cluster import file, state_at
from harness.servers import start
from node.link import schedule, upstream
from provisioning.identity import save_identity
from storage.database import db
from storage.models import SyncLink, utcnow
from sync import canonical
from sync.request import PULL_CONTEXT
from web.admission import QUEUE_WAIT_MAX_S, RETRY_MIN_S

RETRY_AFTER_S = 5  # what the stand-in front below asks


class _Capture:
    """A transport that keeps the signed request instead of sending it."""

    def post(self, path: str, headers: dict[str, str], body: bytes) -> bytes:
        self.sent = (headers, body)
        raise upstream.Unreachable("captured")


def _signed_pulls(village, count: int) -> list[tuple[dict, bytes]]:
    """`count` genuine pull requests of the village from cursor 0 (each a real piece of work for the hub)."""
    capture = _Capture()
    parent = upstream.Parent(village, capture)
    pulls = []
    for _ in range(count):
        try:
            parent.call(upstream.PULL_PATH, PULL_CONTEXT, canonical.encode({"cursor": 0}))
        except upstream.Unreachable:
            pulls.append(capture.sent)
    return pulls


def test_a_saturated_hub_answers_some_requests_busy_at_once_and_none_waits_long(cluster):
    village = cluster.open("village")
    upstream.sync_once(village)  # the township knows the village from here on
    pulls = _signed_pulls(village, 80)
    db.close()
    cluster.halt("township")
    config = cluster.configs["township"]
    cluster.servers["township"] = start(
        ["serve", "--data", str(config.data_dir)],
        config.port,
        settings={"ONETRIP_THREADS": "2", "ONETRIP_SYNC_MAX_IN_FLIGHT": "2", "ONETRIP_SYNC_INTERVAL_S": "3600"},
    )
    url = f"http://127.0.0.1:{config.port}{upstream.PULL_PATH}"

    def post(pull: tuple[dict, bytes]) -> tuple[int, str | None, float]:
        started = time.monotonic()
        answer = requests.post(url, data=pull[1], headers=pull[0], timeout=30)
        return answer.status_code, answer.headers.get("Retry-After"), time.monotonic() - started

    with ThreadPoolExecutor(max_workers=len(pulls)) as pool:
        answers = list(pool.map(post, pulls))
    statuses = [status for status, _, _ in answers]
    assert set(statuses) <= {200, 503}
    assert statuses.count(200) >= 1 and statuses.count(503) >= 1, statuses
    waits = sorted(int(after) for status, after, _ in answers if status == 503)
    assert waits[0] >= RETRY_MIN_S and waits[-1] > waits[0]  # appointments: the refused come back spread out
    # Each was answered or refused within the queue's bound and one request's work, never left to queue.
    assert max(seconds for _, _, seconds in answers) < QUEUE_WAIT_MAX_S + 4


class _BusyFirst(BaseHTTPRequestHandler):
    """A hub's front that answers the first requests 503 busy, as a saturated hub does, then forwards."""

    refusals = 1
    target = ""
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.lock:
            busy, _BusyFirst.refusals = self.refusals > 0, self.refusals - 1
        if busy:
            answer = json.dumps({"error": "busy", "message": "上级正忙", "retry_after_s": RETRY_AFTER_S}).encode()
            self.send_response(503)
            self.send_header("Retry-After", str(RETRY_AFTER_S))
        else:
            forwarded = requests.post(self.target + self.path, data=body, headers=dict(self.headers), timeout=30)
            answer = forwarded.content
            self.send_response(forwarded.status_code)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args) -> None:
        pass


def test_a_station_told_busy_comes_back_after_retry_after_with_jitter_and_loses_nothing(cluster):
    front = ThreadingHTTPServer(("127.0.0.1", 0), _BusyFirst)
    _BusyFirst.target = f"http://127.0.0.1:{cluster.configs['township'].port}"
    threading.Thread(target=front.serve_forever, daemon=True).start()
    try:
        village = cluster.open("village")
        save_identity(
            village.config.data_dir,
            village.identity.__class__(
                **{**village.identity.__dict__, "parent_url": f"http://127.0.0.1:{front.server_port}"}
            ),
        )
        village = cluster.open("village")
        number = file(village)
        before = utcnow()
        assert schedule.sync_if_due(village, random.Random(3)) is None  # told busy: no round, and no failure
        link = SyncLink.get()
        assert link.failures == 0 and link.last_error is None
        wait = link.next_attempt_at - before
        assert dt.timedelta(seconds=RETRY_AFTER_S) <= wait <= dt.timedelta(seconds=RETRY_AFTER_S * 1.5 + 1)
        assert schedule.sync_if_due(village, random.Random(3)) is None  # not due yet: nothing is sent
        SyncLink.update(next_attempt_at=utcnow()).execute()  # the wait has passed
        report = schedule.sync_if_due(village, random.Random(3))
        assert report is not None and report.pushed > 0
        db.close()
        assert state_at(cluster, "township", number) == "submitted"
    finally:
        front.shutdown()
