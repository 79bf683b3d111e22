"""Enrolment endpoints of a hub: public directory, and the sealed request → sealed grant exchange."""

from flask import Blueprint, Response, current_app, jsonify, request

from node.fleet import admin as fleet

bp = Blueprint("enrol", __name__, url_prefix="/api/v1/enrol")

MAX_REQUEST_BYTES = 64 * 1024


@bp.get("/hub")
def hub():
    return jsonify(fleet.directory(current_app.extensions["onetrip"]))


@bp.post("")
def enrol():
    body = request.get_data(cache=False)
    if len(body) > MAX_REQUEST_BYTES:
        return jsonify(error="too_large", message="注册请求过大"), 413
    sealed = fleet.grant(current_app.extensions["onetrip"], body)
    return Response(sealed, mimetype="application/octet-stream")


@bp.post("/bundle")
def bundle():
    """A station's setup page asks for its enrolment bundle with its code, sealed to this hub."""
    body = request.get_data(cache=False)
    if len(body) > MAX_REQUEST_BYTES:
        return jsonify(error="too_large", message="注册包请求过大"), 413
    node = current_app.extensions["onetrip"]
    data = fleet.bundle_on_request(node, body, request.host_url.rstrip("/"))
    return Response(data, mimetype="application/octet-stream")


@bp.post("/renew")
def renew():
    body = request.get_data(cache=False)
    if len(body) > MAX_REQUEST_BYTES:
        return jsonify(error="too_large", message="续期请求过大"), 413
    return Response(fleet.grant_renewal(current_app.extensions["onetrip"], body), mimetype="application/octet-stream")
