"""A userspace TCP proxy for a slow but live line: every connection passes all its bytes, a few at a
time with a pause between, so that a transfer lasts far longer than any single silence."""

from __future__ import annotations

import threading
import time

from .loopback import LoopbackProxy, relay


class TrickleProxy(LoopbackProxy):
    def __init__(self, target_port: int, *, chunk_bytes: int, pause_s: float):
        self.chunk_bytes = chunk_bytes
        self.pause_s = pause_s
        super().__init__(target_port)

    def _connect(self, client) -> None:
        server = self._dial()
        for source, sink in ((client, server), (server, client)):
            threading.Thread(target=self._pump, args=(source, sink, client, server), daemon=True).start()

    def _pump(self, source, sink, client, server) -> None:
        def slowly(data: bytes) -> None:
            time.sleep(self.pause_s)
            sink.sendall(data)

        relay(source, (client, server), slowly, self.chunk_bytes)
