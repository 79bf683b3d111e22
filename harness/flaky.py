"""A userspace TCP proxy that cuts connections part-way, as a bad line does (this machine's kernel
has no `netem`). Each of the first `cuts` connections is closed after a random number of bytes
in either direction; later ones pass untouched."""

from __future__ import annotations

import random
import threading

from .loopback import LoopbackProxy, relay


class FlakyProxy(LoopbackProxy):
    def __init__(self, target_port: int, *, cuts: int, max_bytes: int, seed: int = 5):
        self.cuts_left = cuts
        self.max_bytes = max_bytes
        self.rng = random.Random(seed)
        self.cut = 0  # connections cut so far
        super().__init__(target_port)

    def _connect(self, client) -> None:
        with self._lock:
            budget = self.rng.randint(1, self.max_bytes) if self.cuts_left > 0 else None
            self.cuts_left -= 1
        server = self._dial()
        state = {"left": budget}
        for source, sink in ((client, server), (server, client)):
            threading.Thread(target=self._pump, args=(source, sink, state, client, server), daemon=True).start()

    def _pump(self, source, sink, state, client, server) -> None:
        def until_cut(data: bytes) -> None:
            with self._lock:
                if state["left"] is not None:
                    if len(data) >= state["left"]:
                        sink.sendall(data[: state["left"]])
                        self.cut += 1
                        raise OSError("cut")
                    state["left"] -= len(data)
            sink.sendall(data)

        relay(source, (client, server), until_cut, 4096)
