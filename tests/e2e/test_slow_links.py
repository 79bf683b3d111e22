"""What a station says of its link, against sockets and real hubs on loopback: a parent that is off, one
that accepts and never answers (reported within seconds), a link cut mid-answer, and a slow but live
link, which completes however long the transfer takes."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness.cluster import file
from harness.tree import open_node
from harness.trickle import TrickleProxy
from node.link import upstream
from storage.database import db
from sync.transport import HttpTransport, Unreachable


@pytest.fixture
def frozen_parent():
    """A parent whose process hangs: the kernel accepts connections, nothing ever reads or answers."""
    with socket.create_server(("127.0.0.1", 0), backlog=16) as listener:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@pytest.fixture
def cut_parent():
    """A parent that starts its answer and goes away mid-body."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        with listener:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"x" * 100)

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}"


def _refusal(url: str, answer_timeout_s: float = 10) -> tuple[str, float]:
    started = time.monotonic()
    with pytest.raises(Unreachable) as refused:
        HttpTransport(url, answer_timeout_s=answer_timeout_s).post("/api/v1/sync/pull", {}, b"x" * 100)
    return str(refused.value), time.monotonic() - started


def test_a_parent_that_is_off_is_reported_as_unreachable():
    with socket.create_server(("127.0.0.1", 0)) as closed:
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    message, _ = _refusal(url)
    assert "连不上上级" in message and "未开机" in message


def test_a_parent_that_accepts_and_never_answers_is_reported_within_seconds(frozen_parent):
    message, took_s = _refusal(frozen_parent, answer_timeout_s=1)
    assert "没有回应" in message and "未开机" not in message and took_s < 3


def test_a_link_cut_mid_answer_is_reported_as_such(cut_parent):
    message, _ = _refusal(cut_parent)
    assert "连接在传输中断开" in message and "未开机" not in message
    assert "Error" not in message  # words for staff, not a class name


def test_a_station_behind_the_proxy_its_environment_names_reaches_its_parent_through_it(monkeypatch):
    """HTTP_PROXY as the PC's network sets it: read once when the transport is made, not for every request."""
    asked = []

    class Proxy(BaseHTTPRequestHandler):
        def do_POST(self):
            asked.append((self.path, self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "7")
            self.end_headers()
            self.wfile.write(b"through")

        def log_message(self, *args):
            pass

    with ThreadingHTTPServer(("127.0.0.1", 0), Proxy) as proxy:
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        transport = HttpTransport("http://county-behind-proxy.invalid:8000")
        answers = [transport.post("/api/v1/sync/pull", {}, b"sealed") for _ in range(2)]
        proxy.shutdown()
    assert answers == [b"through"] * 2
    assert asked == [("http://county-behind-proxy.invalid:8000/api/v1/sync/pull", b"sealed")] * 2


def test_a_station_whose_parent_froze_hears_it_within_seconds_and_keeps_its_work(cluster, frozen_parent):
    config = dataclasses.replace(cluster.configs["village"], sync_answer_timeout_s=1)
    village = open_node(config)
    file(village)
    village.identity = dataclasses.replace(village.identity, parent_url=frozen_parent)
    started = time.monotonic()
    with pytest.raises(Unreachable, match="没有回应"):
        upstream.sync_once(village)
    assert time.monotonic() - started < 5
    assert "没有回应" in village.status().sync.last_error and village.status().sync.pending_events > 0
    db.close()


class Timed(HttpTransport):
    """The real HTTP transport, timing each request from sending to the answer's last byte."""

    def __init__(self, base_url: str, answer_timeout_s: float):
        super().__init__(base_url, answer_timeout_s=answer_timeout_s)
        self.took_s: list[float] = []

    def post(self, path: str, headers: dict[str, str], body: bytes) -> bytes:
        started = time.monotonic()
        try:
            return super().post(path, headers, body)
        finally:
            self.took_s.append(time.monotonic() - started)


def test_a_slow_but_live_link_completes_requests_longer_than_any_silence_allowed(cluster):
    village = open_node(cluster.configs["village"])
    numbers = [file(village) for _ in range(2)]
    proxy = TrickleProxy(cluster.configs["township"].port, chunk_bytes=96, pause_s=0.02)  # about 5 KB/s
    transport = Timed(f"http://127.0.0.1:{proxy.port}", answer_timeout_s=2)
    try:
        report = upstream.sync_once(village, transport)
    finally:
        proxy.close()
    assert report.pushed >= len(numbers) and village.status().sync.last_error is None
    assert max(transport.took_s) > 3  # one transfer outlasted the silence allowed: only silence counts
    db.close()
