"""One translation of errors: `/api/*` gets `{"error": code, "message": …}`, people get a page in Chinese.

Nobody sees a stack trace; unexpected errors are logged here with theirs.
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from storage.errors import DiskFull

log = logging.getLogger(__name__)

_HTTP_MESSAGES = {
    400: "请求有误",
    403: "没有权限",
    404: "找不到这个页面",
    405: "不支持这种请求方式",
    413: "上传的内容太大",
    500: "系统内部错误，已记录，请稍后再试",
}


def _respond(status: int, code: str, message: str, details: dict | None = None):
    if request.path.startswith("/api/"):
        response = jsonify(error=code, message=message, **(details or {}))
        if details and "retry_after_s" in details:  # backpressure: HTTP clients and proxies read the header
            response.headers["Retry-After"] = str(details["retry_after_s"])
        return response, status
    return render_template("error.html", status=status, message=message), status


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return _respond(400, "csrf_failed", "表单已过期或来源不明，请刷新页面后重新提交")

    @app.errorhandler(DiskFull)
    def disk_full(exc: DiskFull):
        log.error("%s", exc)  # not a refusal of the request: someone must free space on this PC
        return _respond(exc.http_status, exc.code, str(exc), exc.details)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        # A view that says why (`abort(403, "…")`) is heard; werkzeug's English defaults are not shown.
        said = exc.description if exc.description != type(exc).description else None
        return _respond(
            status,
            (exc.name or "error").lower().replace(" ", "_"),
            said or _HTTP_MESSAGES.get(status, exc.description),
        )

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        code = getattr(exc, "code", None)
        if isinstance(code, str):  # one of ours: it carries a stable code and a message for people
            log.warning("refused: %s: %s", code, exc)
            # A sync refusal may carry what the sender needs to act on it (held seq, server time).
            return _respond(getattr(exc, "http_status", 400), code, str(exc), getattr(exc, "details", None))
        log.exception("unexpected error on %s", request.path)
        return _respond(500, "internal_error", _HTTP_MESSAGES[500])
