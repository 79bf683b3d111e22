"""One translation of errors: `/api/*` gets `{"error": code, "message": …}`, people get a page in Chinese.

Nobody sees a stack trace; unexpected errors are logged here with theirs.
"""

from __future__ import annotations

import json
import logging

from flask import Flask, Response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import BadRequest, HTTPException

from storage.errors import is_unreachable
from sync.errors import Busy

log = logging.getLogger(__name__)
DATABASE_RETRY_S = 5  # what a hub whose database is away asks a station to wait before trying again

_HTTP_MESSAGES = {
    400: "请求有误",
    401: "请先登录：API 使用登录后的会话（session Cookie），写操作另需 X-CSRFToken 头",
    403: "没有权限",
    404: "找不到这个页面",
    405: "不支持这种请求方式",
    413: "上传的内容太大",
    500: "系统内部错误，已记录，请稍后再试",
}


def api_error(code: str, message: str, details: dict | None = None) -> tuple[bytes, list[tuple[str, str]]]:
    """The body and headers a program is refused with: `{"error": code, "message": …}` and what the refusal
    carries for it to act on (a busy hub's `retry_after_s`, also as `Retry-After`, which proxies read)."""
    body = json.dumps({"error": code, "message": message, **(details or {})}, ensure_ascii=False).encode()
    headers = [("Content-Type", "application/json")]
    if details and "retry_after_s" in details:
        headers.append(("Retry-After", str(details["retry_after_s"])))
    return body, headers


def translated(exc: Exception, path: str) -> tuple[int, str, str, dict | None]:
    """Status, code, words and details for an error raised while serving `path`, logged as it deserves: one of
    ours (it carries a stable code and words for people), a database out of reach (a station backs off and
    comes back; a person is told to try again shortly), or a bug (500; its trace in the log, never in the
    answer)."""
    code = getattr(exc, "code", None)
    if isinstance(code, str):
        status = getattr(exc, "http_status", 400)
        # A 5xx of ours (a full disk, 507) is no refusal of the request: someone must act on this PC. Backpressure
        # is neither: a storm's thousands of busy answers are the hub working as meant.
        level = logging.DEBUG if isinstance(exc, Busy) else logging.ERROR if status >= 500 else logging.WARNING
        log.log(level, "refused: %s: %s", code, exc)
        # A sync refusal may carry what the sender needs to act on it (held seq, server time).
        return status, code, str(exc), getattr(exc, "details", None)
    if is_unreachable(exc):
        log.error("database unreachable on %s: %s", path, exc)
        said = "数据库暂时无法连接（服务器重启或网络中断），请稍后再试；恢复后无需任何操作"
        return 503, "busy", said, {"retry_after_s": DATABASE_RETRY_S}
    log.exception("unexpected error on %s", path)
    return 500, "internal_error", _HTTP_MESSAGES[500], None


def _respond(status: int, code: str, message: str, details: dict | None = None, headers=()):
    """`headers`: what the status promises to say, as `Allow` for a 405. A page's own script that asks for JSON
    (sealing, which must say a wrong PIN on the page instead of in a new tab) gets the JSON form too."""
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        body, own = api_error(code, message, details)
        return Response(body, status, [*own, *headers])
    return render_template("error.html", status=status, message=message), status, list(headers)


def _no_nul() -> None:
    """A query string or form holding NUL is refused before any view: PostgreSQL cannot store or compare NUL
    in text, so a hub would answer 500 where a station on SQLite would not (JSON bodies: `web.bodies`)."""
    if any("\x00" in value for values in (request.args, request.form) for value in values.values()):
        raise BadRequest("请求含有不允许的字符（NUL）")


def init_app(app: Flask) -> None:
    app.before_request(_no_nul)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        if request.path.startswith("/api/"):  # a program's call, not a form
            said = "缺少或无效的 CSRF 令牌：写操作须在 X-CSRFToken 头里带上 GET /api/v1/csrf 取得的令牌"
            return _respond(400, "csrf_failed", said)
        return _respond(400, "csrf_failed", "表单已过期或来源不明，请刷新页面后重新提交")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        # A view that says why (`abort(403, "…")`) is heard; werkzeug's English defaults are not shown.
        said = exc.description if exc.description != type(exc).description else None
        return _respond(
            status,
            (exc.name or "error").lower().replace(" ", "_"),
            said or _HTTP_MESSAGES.get(status, exc.description),
            headers=[(k, v) for k, v in exc.get_headers() if k != "Content-Type"],
        )

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        return _respond(*translated(exc, request.path))
