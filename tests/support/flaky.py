"""A userspace TCP proxy that cuts connections part-way, as a bad line does (this machine's kernel
has no `netem`). Each of the first `cuts` connections is closed after a random number of bytes
in either direction; later ones pass untouched."""

from __future__ import annotations

import random
import socket
import threading


class FlakyProxy:
    def __init__(self, target_port: int, *, cuts: int, max_bytes: int, seed: int = 5):
        self.target_port = target_port
        self.cuts_left = cuts
        self.max_bytes = max_bytes
        self.rng = random.Random(seed)
        self.cut = 0  # connections cut so far
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                budget = self.rng.randint(1, self.max_bytes) if self.cuts_left > 0 else None
                self.cuts_left -= 1
            server = socket.create_connection(("127.0.0.1", self.target_port))
            state = {"left": budget}
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink, state, client, server), daemon=True).start()

    def _pump(self, source, sink, state, client, server) -> None:
        try:
            while data := source.recv(4096):
                with self._lock:
                    if state["left"] is not None:
                        if len(data) >= state["left"]:
                            sink.sendall(data[: state["left"]])
                            self.cut += 1
                            raise OSError("cut")
                        state["left"] -= len(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (client, server):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._listener.close()
