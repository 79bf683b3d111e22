"""Which sync requests a hub starts: it refuses what it cannot start soon (503 `busy` with Retry-After) rather
than let it wait in waitress's queue, where a storm of reconnecting stations waited 98 s (issue 18).

Waitress queues each complete request for its worker threads; `StampingDispatcher` notes when, and
`Admission` refuses a request that waited longer than `QUEUE_WAIT_MAX_S`. A request that finds every sync
slot taken waits up to `SLOT_WAIT_MAX_S` for one, if a place in the small waiting room is free (`sync_waiting`:
the threads beside the slots but one), and is refused otherwise. A thread is always left free of both, so a
busy hub answers 503 at once and its pages stay served. The station comes back after Retry-After, with jitter
(`node.link.schedule`).

The waiting room is what keeps the slots busy in a storm. Without it the hub was a loss system: returning
stations arrive at random, and one that found the slots full was sent away while a slot freeing a moment
later stood empty until the next arrival. In the metro storm the machine was a quarter idle while stations
waited for their appointments.

Retry-After is an appointment, not a constant. With one fixed wait, the thousand stations of a storm came
back together, were refused together, and came back again: seven refusals for each request served in the
metro run, each costing both sides a connection, a signature and a seal. Each refusal now books the next
free place in a virtual queue that advances at the rate the hub has been serving, so the refused return
spread over the time the hub needs for them.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from waitress.task import ThreadedTaskDispatcher

from sync.errors import Busy

QUEUE_WAIT_MAX_S = 1.0  # longer in the queue and the hub is behind: a refusal now beats an answer late
SLOT_WAIT_MAX_S = 1.0  # for a slot, in the waiting room: as long, for the same reason
FIRST_SERVICE_S = 0.2  # a sync request's time in its slot, guessed until one has been timed
SMOOTHING = 0.1  # of the last request's time in the running estimate
RETRY_MIN_S, RETRY_MAX_S = 1, 300  # whole seconds, as Retry-After says them; a station takes up to 600
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


def sync_waiting(max_in_flight: int, threads: int) -> int:
    """Sync requests that may wait for a slot at once: the threads beside the slots but the one left free."""
    return max(0, threads - 1 - sync_slots(max_in_flight, threads))


class Admission:
    """The sync slots of one hub process, and the appointments given to the requests they could not take."""

    def __init__(self, slots: int, clock: Callable[[], float] = time.monotonic, waiting: int = 0):
        self.slots, self._free, self._clock = slots, threading.BoundedSemaphore(slots), clock
        self.waiting, self._waiters = waiting, 0  # places in the waiting room, and how many are taken
        self._lock = threading.Lock()
        self._service_s = FIRST_SERVICE_S
        self._booked_until = 0.0  # the clock's time of the last appointment given

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Serve the request in a slot, or refuse it (`Busy`) with an appointment."""
        if waited_s() > QUEUE_WAIT_MAX_S or not self._taken():
            raise Busy("上级正忙：请稍后再同步", retry_after_s=self.appointment())
        started = self._clock()
        try:
            yield
        finally:
            self._free.release()
            self._timed(self._clock() - started)

    def _taken(self) -> bool:
        """A slot now, or within `SLOT_WAIT_MAX_S` from a place in the waiting room; False if neither."""
        if self._free.acquire(blocking=False):
            return True
        with self._lock:
            if self._waiters >= self.waiting:
                return False
            self._waiters += 1
        try:
            return self._free.acquire(timeout=SLOT_WAIT_MAX_S)
        finally:
            with self._lock:
                self._waiters -= 1

    def appointment(self) -> int:
        """Whole seconds until a refused request should come back: the next place after those already given,
        spaced by how often a slot comes free (a request's time in one, over the number of slots)."""
        with self._lock:
            now = self._clock()
            self._booked_until = max(self._booked_until, now) + self._service_s / self.slots
            return min(RETRY_MAX_S, max(RETRY_MIN_S, math.ceil(self._booked_until - now)))

    def _timed(self, seconds: float) -> None:
        with self._lock:
            self._service_s += SMOOTHING * (seconds - self._service_s)
