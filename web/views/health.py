"""Liveness for monitors and load balancers; the version answering, which a switch to a new release checks
(node/releases/staging.py): an old process still holding the port must not pass for the new one."""

from flask import Blueprint, jsonify

from node.releases.client import running_version

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok", version=running_version())
