"""The sync endpoints, served in front of Flask rather than through it.

A sync request is a signed, sealed body in and a sealed body out: it needs no session, template, CSRF token or
page headers, and Flask's request context cost a hub about as much CPU as the idle round's own work (issue 18's
≤ 1 ms). `SyncEndpoints` wraps the app's WSGI callable: it answers every path under `PREFIX` itself, admits a
request through `web.admission` before reading anything of it, and hands the raw body to the node
(`node.link.downstream`). Refusals are the same JSON as the app's (`web.errors`); everything else goes on to
Flask.
"""

from __future__ import annotations

from http import HTTPStatus

from werkzeug.datastructures import EnvironHeaders

from node.link import downstream
from node.runtime import Node
from storage.database import release

from .admission import Admission, sync_slots, sync_waiting
from .errors import api_error, translated
from .headers import MACHINE_HEADERS

PREFIX = "/api/v1/sync/"
HANDLERS = {
    PREFIX + "push": downstream.push,
    PREFIX + "pull": downstream.pull,
    PREFIX + "digest": downstream.compare,
    PREFIX + "blobs": downstream.blobs,
}


class SyncEndpoints:
    """WSGI middleware: the sync endpoints answered here, every other path by `app`."""

    def __init__(self, node: Node, app, max_body: int):
        self.node, self.app, self.max_body = node, app, max_body
        in_flight, threads = node.config.sync_max_in_flight, node.config.threads
        self.admission = Admission(sync_slots(in_flight, threads), waiting=sync_waiting(in_flight, threads))

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not path.startswith(PREFIX):
            return self.app(environ, start_response)
        handler = HANDLERS.get(path)
        if handler is None:
            return _refuse(start_response, 404, "not_found", "找不到这个页面")
        if environ["REQUEST_METHOD"] != "POST":
            return _refuse(start_response, 405, "method_not_allowed", "不支持这种请求方式", None, [("Allow", "POST")])
        try:
            with self.admission.slot():
                body = _body(environ, self.max_body)
                answer = handler(self.node, EnvironHeaders(environ), path, body)
        except Exception as exc:  # refused, or a bug: said in JSON either way, never a trace
            return _refuse(start_response, *translated(exc, path))
        finally:
            release()  # the request's connection back to the pool, as Flask's teardown does for pages
        # Sealed bytes are octet-stream unsaid (RFC 9110 §8.3): no Content-Type, 40 B less a round.
        start_response("200 OK", [("Content-Length", str(len(answer))), *MACHINE_HEADERS])
        return [answer]


class TooLarge(Exception):
    """A body past the hub's limit: refused before it is read."""

    code, http_status = "request_entity_too_large", 413

    def __init__(self):
        super().__init__("上传的内容太大")


def _body(environ, limit: int) -> bytes:
    """The request's body, refused past `limit` bytes (a declared length before reading, a chunked one after)."""
    declared = environ.get("CONTENT_LENGTH") or ""
    stream = environ["wsgi.input"]
    if declared.isdigit():
        if int(declared) > limit:
            raise TooLarge()
        return stream.read(int(declared))
    body = stream.read(limit + 1)
    if len(body) > limit:
        raise TooLarge()
    return body


def _refuse(start_response, status: int, code: str, message: str, details: dict | None = None, headers=()):
    body, own = api_error(code, message, details)
    start_response(
        f"{status} {HTTPStatus(status).phrase}", [*own, *headers, *MACHINE_HEADERS, ("Content-Length", str(len(body)))]
    )
    return [body]
