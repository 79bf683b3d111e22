"""The JSON API, version 1."""

from dataclasses import asdict

from flask import Blueprint, current_app, jsonify

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.get("/status")
def status():
    return jsonify(asdict(current_app.extensions["onetrip"].status()))
