"""An SMS gateway on loopback for the notices' tests: a real HTTP server that stores what it accepts,
dedupes by the `Idempotency-Key` header as a real gateway does, and fails a share of the requests,
half of them before storing (a 503) and half after (the message kept, the answer lost: the sender must
try again and the key must stop a second message). The clock it stamps messages with is the test's."""

from __future__ import annotations

import json
import random
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    key: str
    phone: str
    text: str
    at_ms: int


@dataclass
class GatewayLog:
    accepted: dict[str, Received] = field(default_factory=dict)
    duplicates: int = 0  # requests repeating a key already accepted (answered with the first receipt)
    failed: int = 0


def reply_json(handler: BaseHTTPRequestHandler, status: int, answer: dict) -> None:
    """Answer a request of a loopback service with a JSON body."""
    data = json.dumps(answer).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class LoopbackSmsGateway:
    def __init__(self, clock, *, fail_share: float = 0.3, seed: int = 14) -> None:
        self.log = GatewayLog()
        self._clock, self._share, self._rng = clock, fail_share, random.Random(seed)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/send"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _handler(self):
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                reply_json(self, *gateway._receive(self.headers.get("Idempotency-Key", ""), body))

        return Handler

    def _receive(self, key: str, body: dict) -> tuple[int, dict]:
        with self._lock:
            roll = self._rng.random()
            if not key:
                return 400, {"error": "missing Idempotency-Key"}
            if roll < self._share / 2:
                self.log.failed += 1
                return 503, {"error": "busy"}
            if key in self.log.accepted:
                self.log.duplicates += 1
            else:
                self.log.accepted[key] = Received(key, body["phone"], body["text"], self._clock.now_ms())
            if roll < self._share:
                self.log.failed += 1
                return 502, {"error": "upstream timeout"}  # stored, but the sender never hears so
            return 200, {"message_id": "m-" + key[:12], "status": "delivered"}

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
