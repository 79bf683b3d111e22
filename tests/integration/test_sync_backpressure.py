"""A hub sheds sync requests beyond its in-flight limit with 503 and Retry-After, and serves again after."""

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
