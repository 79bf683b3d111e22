"""How sync requests travel: a `Transport` posts sealed bytes to a path and returns the sealed answer.

`HttpTransport` speaks to a parent over HTTP with `requests` and explicit timeouts. A
refusal comes back as `Refused` with the parent's code, message and details, so the
engine can act on a gap or a clock skew; a link that is down, a parent that does not
answer and a link cut mid-transfer are each an `Unreachable` that says which.
"""

from __future__ import annotations

import io
from functools import cache
from typing import Protocol

import requests
from urllib3.exceptions import NewConnectionError
from urllib3.util import SKIP_HEADER

from .errors import SyncError

CONNECT_S = 3  # a parent that is up accepts at once; one that is off or unplugged is known within this
# How long a parent may be silent, before its answer and between the answer's packets: a few seconds to
# look at a small request, more for a large batch it must apply first. A slow but live link keeps
# sending, so only silence counts, never the whole transfer's length.
ANSWER_TIMEOUT_S = 10
APPLY_BYTES_PER_S = 100_000  # the slowest a busy hub takes in a batch, for the extra silence it may need
MAX_SILENCE_S = 120
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


def silence_allowed_s(answer_timeout_s: float, body_bytes: int) -> float:
    """How long the parent may stay silent on a request of this size (see `ANSWER_TIMEOUT_S`)."""
    return min(MAX_SILENCE_S, answer_timeout_s + body_bytes / APPLY_BYTES_PER_S)


class HttpTransport:
    def __init__(
        self, base_url: str, session: requests.Session | None = None, answer_timeout_s: float = ANSWER_TIMEOUT_S
    ):
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()  # one connection kept alive across a round's requests
        self.session.headers.clear()  # requests' defaults (user agent, accept…) are bytes an idle round need not send
        # The environment's proxy for the parent (HTTP_PROXY, NO_PROXY…), which requests would read again for
        # every request, with ~/.netrc: a tenth of an idle round's time at the station, for what a running
        # process's environment cannot change. No netrc: the parent is answered by signature, not passwords.
        self.session.trust_env = False
        self.session.proxies = _environ_proxies(self.base_url)
        self.answer_timeout_s = answer_timeout_s

    def post(self, path: str, headers: dict[str, str], body: bytes) -> bytes:
        silence_s = silence_allowed_s(self.answer_timeout_s, len(body))
        try:
            # The body as a stream: it is sent in blocks, each with the connect timeout (urllib3 sends a
            # request under it), so a slow link that keeps taking bytes is not cut for being slow.
            response = self.session.post(
                self.base_url + path,
                data=io.BytesIO(body) if body else body,  # an empty stream would go chunked
                headers={**headers, **_BARE},
                timeout=(CONNECT_S, silence_s),
            )
            answer = response.content
        except requests.RequestException as exc:
            raise Unreachable(self._why(exc, silence_s)) from exc
        if response.ok:
            return answer
        try:
            answer = response.json()
            code, message = answer.pop("error"), answer.pop("message")
        except (ValueError, KeyError, AttributeError):
            raise Refused(
                "bad_answer", f"上级返回错误 {response.status_code}，不是 OneTrip 节点的回答", {}, response.status_code
            ) from None
        raise Refused(str(code), str(message), answer, response.status_code)

    def _why(self, exc: requests.RequestException, silence_s: float) -> str:
        """In words: the parent could not be reached at all, did not answer, or the link broke mid-way."""
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        if isinstance(exc, requests.ConnectTimeout) or isinstance(reason, NewConnectionError):
            return f"连不上上级 {self.base_url}：网络不通或对方未开机"
        if isinstance(exc, requests.ReadTimeout):
            return f"上级 {self.base_url} 连上了但 {silence_s:.0f} 秒没有回应：对方可能卡住或过忙，稍后会自动重试"
        return f"与上级 {self.base_url} 的连接在传输中断开：线路不稳，下次同步从断点继续"


@cache
def _environ_proxies(url: str) -> dict[str, str]:
    return requests.utils.get_environ_proxies(url)
