"""A hub sheds sync requests beyond its in-flight limit, or that waited too long for a thread, with 503 and
Retry-After, and serves again after. The sync endpoints are served in front of Flask (`web.sync_endpoints`):
their refusals are the app's JSON all the same."""

import threading
import time
from contextlib import ExitStack

from storage.models import RequestNonce
from web.admission import QUEUE_WAIT_MAX_S, RETRY_MIN_S, StampingDispatcher, sync_slots


def test_a_sync_request_beyond_the_in_flight_limit_is_told_to_come_back(app, client, monkeypatch):
    admission = app.wsgi_app.admission
    assert admission.slots == app.extensions["onetrip"].config.sync_max_in_flight
    assert admission.waiting == app.extensions["onetrip"].config.threads - admission.slots - 1
    monkeypatch.setattr(admission, "waiting", 0)  # the waiting room full (its places: tests/unit/test_admission.py)
    with ExitStack() as taken:
        for _ in range(admission.slots):
            taken.enter_context(admission.slot())
        answers = [client.post("/api/v1/sync/push", data=b"sealed") for _ in range(60)]
    assert {answer.status_code for answer in answers} == {503}
    waits = [answer.json["retry_after_s"] for answer in answers]
    assert [int(answer.headers["Retry-After"]) for answer in answers] == waits
    assert answers[0].json == {"error": "busy", "message": "上级正忙：请稍后再同步", "retry_after_s": RETRY_MIN_S}
    assert waits == sorted(waits) and waits[-1] > waits[0]  # later refusals are given later places
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
        assert late.result.status_code == 503 and int(late.result.headers["Retry-After"]) >= RETRY_MIN_S
        prompt = _Task(lambda: client.post("/api/v1/sync/pull", data=b"sealed"))
        dispatcher.add_task(prompt)
        assert prompt.done.wait(10)
        assert prompt.result.status_code == 403  # started at once: refused for what it is, an unsigned request
    finally:
        dispatcher.shutdown(timeout=5)


def test_one_thread_is_always_left_beside_the_sync_slots():
    assert sync_slots(4, 4) == 3 and sync_slots(4, 8) == 4 and sync_slots(4, 1) == 1


def test_the_sync_endpoints_refuse_a_wrong_method_path_or_size_in_json_and_store_nothing(app, client):
    wrong_method = client.get("/api/v1/sync/pull")
    assert wrong_method.status_code == 405 and wrong_method.headers["Allow"] == "POST"
    assert wrong_method.json["error"] == "method_not_allowed"
    unknown = client.post("/api/v1/sync/everything", data=b"sealed")
    assert unknown.status_code == 404 and unknown.json["error"] == "not_found"
    too_large = client.post("/api/v1/sync/push", data=b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1))
    assert too_large.status_code == 413 and too_large.json == {
        "error": "request_entity_too_large",
        "message": "上传的内容太大",
    }
    assert RequestNonce.select().count() == 0
    for answer in (wrong_method, unknown, too_large):
        assert answer.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
