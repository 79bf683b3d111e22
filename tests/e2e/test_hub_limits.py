"""A served hub under idle sockets and behind a TLS proxy: `onetrip serve` as a real process on loopback."""

from __future__ import annotations

import socket

import pytest
import requests

from harness.servers import free_port, start, stop
from storage.database import db


def _serve(data_dir, settings: str = ""):
    if settings:
        with open(data_dir / "onetrip.toml", "a", encoding="utf-8") as toml:
            toml.write(f"\n{settings}\n")
    port = free_port()
    return start(["serve", "--data", str(data_dir)], port), f"http://127.0.0.1:{port}", port


@pytest.fixture
def county_dir(county_node):
    db.close()  # the served process is the only one to open it from here
    return county_node.config.data_dir


def test_three_hundred_idle_half_sent_requests_do_not_stop_a_served_hub(county_dir):
    server, base, port = _serve(county_dir)
    idle = []
    try:
        for _ in range(300):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: hub\r\n")  # the blank line that ends it never comes
            idle.append(sock)
        assert requests.get(f"{base}/healthz", timeout=5).ok
        assert requests.get(f"{base}/login", timeout=5).ok
    finally:
        for sock in idle:
            sock.close()
        stop(server)


def _session_cookie(base: str, proto: str | None) -> str:
    headers = {"X-Forwarded-Proto": proto} if proto else {}
    return requests.get(f"{base}/login", headers=headers, timeout=5).headers["Set-Cookie"]


def test_the_session_cookie_is_secure_when_a_trusted_proxy_says_the_request_came_over_tls(county_dir):
    server, base, _ = _serve(county_dir, 'trusted_proxy = "127.0.0.1"')
    try:
        assert "Secure" in _session_cookie(base, "https")
        assert "Secure" not in _session_cookie(base, None)
    finally:
        stop(server)


def test_a_forwarded_proto_header_is_not_believed_without_a_trusted_proxy(county_dir):
    server, base, _ = _serve(county_dir)
    try:
        assert "Secure" not in _session_cookie(base, "https")
    finally:
        stop(server)
