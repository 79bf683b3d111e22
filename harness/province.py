"""The province's 一体化政务服务平台 on loopback, for the forwarding's test: a real HTTP server that keeps each
case's newest record, dedupes by `Idempotency-Key`, and misbehaves as a remote platform does: a share of the
requests fail before anything is kept (503), a share after (the record kept, the answer lost), and answers
come back out of order (each request waits a random moment before it is handled, and the city sends several
at once). Of a case's versions it keeps the highest, whatever order they arrive in. It answers the daily
count by filing day, and can lose a case (`forget`), as a platform restored from an old backup would."""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from .sms_gateway import reply_json


@dataclass
class ProvinceLog:
    cases: dict[str, dict] = field(default_factory=dict)  # case number → its newest record
    keys: dict[str, str] = field(default_factory=dict)  # idempotency keys taken → the case each was for
    kept: int = 0  # records kept (a new key)
    duplicates: int = 0  # requests repeating a key already taken
    out_of_order: int = 0  # answers given while a request that arrived before was still waiting for its own
    failed: int = 0


class LoopbackProvince:
    def __init__(self, *, fail_share: float = 0.3, seed: int = 18) -> None:
        self.log = ProvinceLog()
        self._share, self._rng = fail_share, random.Random(seed)
        self._lock = threading.Lock()
        self._arrivals, self._in_flight = 0, set()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/exchange"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def forget(self, number: str) -> None:
        with self._lock:
            self.log.cases.pop(number, None)  # and what it knew of it: a backup older than the case
            self.log.keys = {key: case for key, case in self.log.keys.items() if case != number}

    def close(self) -> None:
        self._server.shutdown()

    def _handler(self):
        province = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                record = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                reply_json(self, *province._receive(self.headers.get("Idempotency-Key", ""), record))

            def do_GET(self) -> None:
                day = parse_qs(urlparse(self.path).query).get("day", [""])[0]
                with province._lock:
                    count = sum(1 for r in province.log.cases.values() if r["basic"]["filed_on"] == day)
                reply_json(self, 200, {"count": count})

        return Handler

    def _receive(self, key: str, record: dict) -> tuple[int, dict]:
        with self._lock:
            roll, arrival = self._rng.random(), self._arrivals
            self._arrivals += 1
            self._in_flight.add(arrival)
        time.sleep(0.05 if arrival % 2 == 0 else 0)  # of two requests in flight together, the later is answered first
        with self._lock:
            self.log.out_of_order += any(earlier < arrival for earlier in self._in_flight)
            self._in_flight.discard(arrival)
            if roll < self._share / 2:
                self.log.failed += 1
                return 503, {"error": "busy"}
            number = record["basic"]["case_number"]
            if key in self.log.keys:
                self.log.duplicates += 1
            else:
                self.log.keys[key] = number
                self.log.kept += 1
                held = self.log.cases.get(number)
                if held is None or held["version"] <= record["version"]:  # a late older version is not kept
                    self.log.cases[number] = record
            if roll < self._share:
                self.log.failed += 1
                return 500, {"error": "lost"}  # kept, but the answer never says so
            return 200, {"received": number}
