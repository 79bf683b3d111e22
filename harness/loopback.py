"""A TCP proxy on loopback in front of a local port, for the link between two real nodes: the
benchmark's byte counter and the tests' bad line are two of them. Subclasses decide what each
connection passes (`_connect`)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable


class LoopbackProxy:
    def __init__(self, target_port: int, port: int = 0):
        """`port`: where it listens (a free one unless given: a hub's address that its processes sit behind)."""
        self.target_port = target_port
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", port))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._connect(client)

    def _connect(self, client: socket.socket) -> None:
        raise NotImplementedError

    def _dial(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.target_port))

    def close(self) -> None:
        self._listener.close()


def shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def relay(source: socket.socket, ends: tuple[socket.socket, ...], send: Callable[[bytes], None], size: int = 65536):
    """Hand what `source` receives, `size` bytes at most at a time, to `send`, until a side closes or `send`
    raises OSError (a cut); then shut both ends, so that the other direction ends too."""
    try:
        while data := source.recv(size):
            send(data)
    except OSError:
        pass
    finally:
        for sock in ends:
            shut(sock)
