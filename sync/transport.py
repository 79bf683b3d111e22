"""How sync requests travel: a `Transport` posts sealed bytes to a path and returns the sealed answer.

`HttpTransport` speaks to a parent over HTTP with `requests` and explicit timeouts. A
refusal comes back as `Refused` with the parent's code, message and details, so the
engine can act on a gap or a clock skew; a link that is down is `Unreachable`.
"""

from __future__ import annotations

from typing import Protocol

import requests
from urllib3.util import SKIP_HEADER

from .errors import SyncError

TIMEOUT_S = (5, 120)  # connect, read: applying a large batch at a busy hub takes a while
# An idle round is one request that must stay under 1 KB both ways: urllib3's default user agent and
# accept-encoding are not sent, nor a Content-Type (without one, RFC 9110 §8.3 lets the recipient take
# the body for application/octet-stream, which a sealed body is).
_BARE = {"User-Agent": SKIP_HEADER, "Accept-Encoding": SKIP_HEADER}


class Unreachable(SyncError):
    code = "unreachable"
    retryable = True


class Refused(SyncError):
    """The other side refused the request; `code` and `details` are its own."""

    def __init__(self, code: str, message: str, details: dict, status: int):
        super().__init__(message)
        self.code = code
        self.details = details
        self.retryable = status >= 500 or code == "clock_skew"


class Transport(Protocol):
    def post(self, path: str, headers: dict[str, str], body: bytes) -> bytes:
        """The answer's body; raises `Unreachable` or `Refused`."""


class HttpTransport:
    def __init__(self, base_url: str, session: requests.Session | None = None):
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()  # one connection kept alive across a round's requests
        self.session.headers.clear()  # requests' defaults (user agent, accept…) are bytes an idle round need not send

    def post(self, path: str, headers: dict[str, str], body: bytes) -> bytes:
        try:
            response = self.session.post(
                self.base_url + path,
                data=body,
                headers={**headers, **_BARE},
                timeout=TIMEOUT_S,
            )
        except requests.RequestException as exc:
            raise Unreachable(f"连不上上级 {self.base_url}（{exc.__class__.__name__}）：网络不通或对方未开机") from exc
        if response.ok:
            return response.content
        try:
            answer = response.json()
            code, message = answer.pop("error"), answer.pop("message")
        except (ValueError, KeyError, AttributeError):
            raise Refused(
                "bad_answer", f"上级返回错误 {response.status_code}，不是 OneTrip 节点的回答", {}, response.status_code
            ) from None
        raise Refused(str(code), str(message), answer, response.status_code)
