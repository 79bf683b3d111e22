"""A hub sheds sync requests beyond its in-flight limit, or that waited too long for a thread, with 503 and
Retry-After, and serves again after."""

import threading
import time

from web.admission import QUEUE_WAIT_MAX_S, StampingDispatcher, sync_slots
from web.views.sync import RETRY_AFTER_S, SLOTS


def test_a_sync_request_beyond_the_in_flight_limit_is_told_to_come_back(app, client):
    slots, limit = app.extensions[SLOTS], app.extensions["onetrip"].config.sync_max_in_flight
    for _ in range(limit):
        slots.acquire()
    answer = client.post("/api/v1/sync/push", data=b"sealed")
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == str(RETRY_AFTER_S)
    assert answer.json == {"error": "busy", "message": answer.json["message"], "retry_after_s": RETRY_AFTER_S}
    for _ in range(limit):
        slots.release()
    answer = client.post("/api/v1/sync/pull", data=b"sealed")
    assert answer.status_code == 403  # served again: refused for what it is, an unsigned request
    assert answer.json["error"] == "request_refused"


class _Task:
    """A task as waitress queues one (a channel with its request): here, a call to make on a worker thread."""

    def __init__(self, work):
        self.work, self.done = work, threading.Event()

    def service(self) -> None:
        self.result = self.work()
        self.done.set()

    def cancel(self) -> None:
        pass


def test_a_sync_request_that_waited_too_long_for_a_thread_is_told_to_come_back_though_a_slot_is_free(client):
    dispatcher = StampingDispatcher()
    dispatcher.set_thread_count(1)
    try:
        blocker = _Task(lambda: time.sleep(QUEUE_WAIT_MAX_S + 0.2))  # the one thread, busy for longer than the bound
        late = _Task(lambda: client.post("/api/v1/sync/pull", data=b"sealed"))
        dispatcher.add_task(blocker)
        dispatcher.add_task(late)
        assert late.done.wait(10)
        assert late.result.status_code == 503 and late.result.headers["Retry-After"] == str(RETRY_AFTER_S)
        prompt = _Task(lambda: client.post("/api/v1/sync/pull", data=b"sealed"))
        dispatcher.add_task(prompt)
        assert prompt.done.wait(10)
        assert prompt.result.status_code == 403  # started at once: refused for what it is, an unsigned request
    finally:
        dispatcher.shutdown(timeout=5)


def test_one_thread_is_always_left_beside_the_sync_slots():
    assert sync_slots(4, 4) == 3 and sync_slots(4, 8) == 4 and sync_slots(4, 1) == 1
