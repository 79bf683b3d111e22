"""A hub's one address in front of its several `onetrip serve` processes, as nginx's `upstream` block does it
(docs/operations.md): each new connection goes to the next process in turn, and one whose port refuses (a
process killed, not started again yet) is passed over for the next, as nginx's `proxy_next_upstream error`
does. A request already sent to a process that dies is lost with its connection, as behind nginx (a 502)."""

from __future__ import annotations

import itertools
import socket
import threading

from .loopback import LoopbackProxy, relay, shut


class RoundRobinProxy(LoopbackProxy):
    def __init__(self, target_ports: list[int], port: int = 0):
        self.target_ports = target_ports
        self._turn = itertools.cycle(range(len(target_ports)))
        super().__init__(target_ports[0], port)

    def _dial(self) -> socket.socket:
        with self._lock:
            order = [self.target_ports[next(self._turn)] for _ in self.target_ports]
        for port in order:
            try:
                return socket.create_connection(("127.0.0.1", port))
            except ConnectionRefusedError:
                continue
        raise ConnectionRefusedError(f"no process answers on {order}")

    def _connect(self, client: socket.socket) -> None:
        try:
            server = self._dial()
        except OSError:
            shut(client)  # every process is down: the station sees the hub unreachable and backs off
            client.close()
            return
        for source, sink in ((client, server), (server, client)):
            threading.Thread(target=relay, args=(source, (client, server), sink.sendall), daemon=True).start()
