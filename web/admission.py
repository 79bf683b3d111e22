"""Which sync requests a hub starts: it refuses what it cannot start soon (503 `busy` with Retry-After) rather
than let it wait in waitress's queue, where a storm of reconnecting stations waited 98 s (issue 18).

Waitress queues each complete request for its worker threads; `StampingDispatcher` notes when, and the
sync views refuse a request that waited longer than `QUEUE_WAIT_MAX_S` as they refuse one that finds every
sync slot taken. A thread is always left beside the slots (`sync_slots`), so a busy hub answers 503 at once
and its pages stay served. The station comes back after Retry-After, with jitter (`node.link.schedule`).
"""

from __future__ import annotations

import threading
import time

from waitress.task import ThreadedTaskDispatcher

QUEUE_WAIT_MAX_S = 1.0  # longer in the queue and the hub is behind: a refusal now beats an answer late
_serving = threading.local()  # the queue wait of the request this worker thread serves


class _Stamped:
    """A task as queued, with the time it was."""

    __slots__ = ("queued_at", "task")

    def __init__(self, task):
        self.task, self.queued_at = task, time.monotonic()

    def service(self) -> None:
        _serving.waited_s = time.monotonic() - self.queued_at
        try:
            self.task.service()
        finally:
            _serving.waited_s = 0.0

    def cancel(self) -> None:
        self.task.cancel()


class StampingDispatcher(ThreadedTaskDispatcher):
    """Waitress's dispatcher, noting when each task was queued (handed to `waitress.serve` as `_dispatcher`)."""

    def add_task(self, task) -> None:
        super().add_task(_Stamped(task))


def waited_s() -> float:
    """How long the request this thread serves waited for a worker thread (0 when not served by waitress)."""
    return getattr(_serving, "waited_s", 0.0)


def sync_slots(max_in_flight: int, threads: int) -> int:
    """Sync requests served at once: at most `max_in_flight`, and one thread fewer than waitress has, so that
    one is always free to refuse the next at once (and to serve a page)."""
    return max(1, min(max_in_flight, threads - 1))
