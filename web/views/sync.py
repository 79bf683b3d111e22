"""Sync endpoints: take the raw body, hand it to the node, return its sealed answer.

Exempt from CSRF: every request is signed by an installation's key instead. At most
`sync_max_in_flight` requests are served at once (one fewer than the threads); the others, and any
that waited in waitress's queue too long, are answered 503 with `Retry-After` at once
(`web.admission`), so that a storm of reconnecting stations queues at the stations, not in the hub.
"""

import threading

from flask import Blueprint, Response, current_app, request

from node.link import downstream
from sync.errors import Busy
from web.admission import QUEUE_WAIT_MAX_S, sync_slots, waited_s

bp = Blueprint("sync", __name__, url_prefix="/api/v1/sync")
SLOTS = "onetrip.sync_slots"
RETRY_AFTER_S = 5


@bp.record_once
def _make_slots(state) -> None:
    node = state.app.extensions["onetrip"]
    slots = sync_slots(node.config.sync_max_in_flight, node.config.threads)
    state.app.extensions[SLOTS] = threading.BoundedSemaphore(slots)


@bp.post("/push")
def push():
    return _sealed(downstream.push)


@bp.post("/pull")
def pull():
    return _sealed(downstream.pull)


@bp.post("/digest")
def digest():
    return _sealed(downstream.compare)


@bp.post("/blobs")
def blobs():
    return _sealed(downstream.blobs)


def _sealed(handler) -> Response:
    slots = current_app.extensions[SLOTS]
    if waited_s() > QUEUE_WAIT_MAX_S or not slots.acquire(blocking=False):
        raise Busy("上级正忙：请稍后再同步", retry_after_s=RETRY_AFTER_S)
    try:
        answer = handler(current_app.extensions["onetrip"], request.headers, request.path, request.get_data())
    finally:
        slots.release()
    response = Response(answer)
    del response.headers["Content-Type"]  # sealed bytes are octet-stream unsaid (RFC 9110 §8.3): 40 B less a round
    return response
