"""A TCP proxy on loopback that counts the bytes going each way: what a sync costs on the wire,
measured rather than estimated. It can also cut the link once a number of bytes have gone up, as a
line that drops mid-transfer does: every connection is closed and new ones refused until restored."""

from __future__ import annotations

import socket
import threading

from harness.loopback import LoopbackProxy, shut


class CountingProxy(LoopbackProxy):
    def __init__(self, target_port: int):
        self.up = self.down = 0  # bytes client → server, server → client
        self._cut_at: int | None = None  # bytes up (since the last reset) after which the link goes down
        self._down = False
        self._open: set[socket.socket] = set()
        super().__init__(target_port)

    def reset(self) -> None:
        with self._lock:
            self.up = self.down = 0

    def cut_after(self, up_bytes: int) -> None:
        with self._lock:
            self._cut_at = up_bytes

    def restore(self) -> None:
        with self._lock:
            self._cut_at, self._down = None, False

    def _connect(self, client: socket.socket) -> None:
        if self._down:
            client.close()  # the line is down: the connection fails at once
            return
        server = self._dial()
        with self._lock:
            self._open |= {client, server}
        threading.Thread(target=self._pump, args=(client, server, "up"), daemon=True).start()
        threading.Thread(target=self._pump, args=(server, client, "down"), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, direction: str) -> None:
        try:
            while data := source.recv(65536):
                with self._lock:
                    if self._down:
                        break
                    if direction == "up" and self._cut_at is not None and self.up + len(data) >= self._cut_at:
                        data, self._down = data[: self._cut_at - self.up], True
                    setattr(self, direction, getattr(self, direction) + len(data))
                sink.sendall(data)
                if self._down:
                    self._close_all()
                    break
        except OSError:
            pass
        finally:
            with self._lock:
                self._open -= {source, sink}
            for sock in (source, sink):
                shut(sock)

    def _close_all(self) -> None:
        with self._lock:
            sockets, self._open = self._open, set()
        for sock in sockets:
            shut(sock)
