"""The JSON API, version 1."""

from dataclasses import asdict

from flask import Blueprint, current_app, jsonify

from node.fleet import admin as fleet

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.get("/status")
def status():
    return jsonify(asdict(current_app.extensions["onetrip"].status()))


@bp.get("/trust")
def trust():
    """The trust feed: anchors, certificates and trust streams, public like a CRL."""
    return jsonify(fleet.trust_feed(current_app.extensions["onetrip"]))
