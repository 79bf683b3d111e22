"""A loopback proxy that stops a sync round at a known point, so a test can kill a process provably
mid-round: requests pass until the first to `path`; then it holds that request's last byte (the parent
is in the middle of reading it and cannot have answered) or its answer (the parent applied it, the child
has not heard). `held` is set once the round stands there."""

from __future__ import annotations

import re
import threading

from .loopback import LoopbackProxy, relay

_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)


class HoldingProxy(LoopbackProxy):
    def __init__(self, target_port: int, *, path: str, hold: str):
        if hold not in ("request", "answer"):
            raise ValueError(hold)
        self.marker = f"POST {path} ".encode()
        self.hold = hold
        self.held = threading.Event()
        self.answered_bytes = 0  # of the parent's answer to the held request that reached the proxy
        super().__init__(target_port)

    def _connect(self, client) -> None:
        server = self._dial()
        state = {"holding": False}
        threading.Thread(target=self._up, args=(client, server, state), daemon=True).start()
        threading.Thread(target=self._down, args=(client, server, state), daemon=True).start()

    def _up(self, client, server, state) -> None:
        """The child's requests, one whole request at a time (a round keeps its connection alive)."""
        buffer = b""

        def whole_requests(data: bytes) -> None:
            nonlocal buffer
            buffer += data
            while (size := _request_size(buffer)) is not None:
                self._forward(buffer[:size], server, state)
                buffer = buffer[size:]

        relay(client, (client, server), whole_requests)

    def _forward(self, request: bytes, server, state) -> None:
        if state["holding"]:
            return
        if not request.startswith(self.marker) or self.held.is_set():
            server.sendall(request)
        elif self.hold == "request":
            server.sendall(request[:-1])
            state["holding"] = True
            self.held.set()
        else:
            state["holding"] = True  # before it goes: its answer must not slip through
            server.sendall(request)

    def _down(self, client, server, state) -> None:
        def unless_holding(data: bytes) -> None:
            if not state["holding"]:
                client.sendall(data)
                return
            self.answered_bytes += len(data)
            if self.hold == "answer":
                self.held.set()

        relay(server, (client, server), unless_holding)


def _request_size(buffer: bytes) -> int | None:
    """The length of the first whole HTTP request in `buffer` (head and Content-Length body), if it is there."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    length = _LENGTH.search(buffer[: end + 2])
    size = end + 4 + (int(length.group(1)) if length else 0)
    return size if len(buffer) >= size else None
