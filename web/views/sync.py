"""Sync endpoints: take the raw body, hand it to the node, return its sealed answer.

Exempt from CSRF: every request is signed by an installation's key instead.
"""

from flask import Blueprint, Response, current_app, request

from node import downstream

bp = Blueprint("sync", __name__, url_prefix="/api/v1/sync")


@bp.post("/push")
def push():
    return _sealed(downstream.push)


@bp.post("/pull")
def pull():
    return _sealed(downstream.pull)


def _sealed(handler) -> Response:
    answer = handler(current_app.extensions["onetrip"], request.headers, request.path, request.get_data())
    return Response(answer, mimetype="application/octet-stream")
