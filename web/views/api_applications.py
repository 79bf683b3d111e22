"""The workbench's actions as JSON under /api/v1/, described by /api/v1/openapi.json.

Same session login and roles as the pages; writes need the CSRF token in the `X-CSRFToken`
header (from GET /api/v1/csrf), so a page on another site cannot post on a clerk's behalf.
The token is checked here, once the session is known, not by the app-wide form check that runs
before every view: a call without a session answers 401, and one without the token is told
about the header, not about a form. Bodies are typed by `web.bodies` before the domain sees them.
"""

from flask import Blueprint, abort, current_app, jsonify, request
from flask_wtf.csrf import generate_csrf

from node.cases.intake import Applicant, IntakeRefused, file_for_resident, transition
from node.cases.queries import timeline
from node.rules.workflow import TRANSITIONS, role_may
from storage.models import Application

from .. import bodies
from ..auth import current_operator, requires, signed_by, visible_application
from ..listing import applications_page
from .openapi import DOCUMENT

bp = Blueprint("api_applications", __name__, url_prefix="/api/v1")


def _node():
    return current_app.extensions["onetrip"]


def _summary(row: Application) -> dict:
    return {
        "number": row.number,
        "station": row.station,
        "item": row.item_code,
        "bundle": row.bundle,
        "state": row.state,
        "masked_id": row.masked_id,
        "filed_on": row.filed_on.isoformat(),
        "due": row.due.isoformat() if row.due else None,
        "due_provisional": row.due_provisional,
    }


@bp.before_request
def _csrf_once_logged_in():
    """The same check as the forms' (`CSRFProtect.protect`), after the session: `requires` answers 401 first."""
    if request.method not in ("GET", "HEAD", "OPTIONS") and current_operator() is not None:
        current_app.extensions["csrf"].protect()


@bp.get("/openapi.json")
def openapi():
    return jsonify(DOCUMENT)


@bp.get("/csrf")
@requires("agent", "clerk", "admin")
def csrf():
    return jsonify(token=generate_csrf())


@bp.get("/applications")
@requires("agent", "clerk", "admin")
def applications():
    page = applications_page(_node(), request.args)
    return jsonify(total=page.total, newer=page.newer, older=page.older, items=[_summary(r) for r in page.rows])


@bp.get("/applications/<number>")
@requires("agent", "clerk", "admin")
def application(number: str):
    row = visible_application(number)
    steps = [{"event": s.event_type, "at": s.at.isoformat(), "by": s.by, "note": s.note} for s in timeline(number)]
    return jsonify(**_summary(row), timeline=steps)


@bp.post("/applications")
@requires("agent", "clerk", "admin")
def create():
    node, body = _node(), bodies.decode(request.get_data(), bodies.Intake)
    person = body.applicant
    try:
        numbers = file_for_resident(
            node,
            node.reference.catalogue(),
            item_code=body.item,
            bundle_code=body.bundle or "",
            applicant=Applicant(person.name, person.id_number, person.phone, person.address),
            consent=body.consent,
            operator=current_operator().username,
            request_token=body.request_token,
            now=node.now(),
        )
    except IntakeRefused as exc:
        return jsonify(error=exc.code, message=str(exc), problems=exc.problems), 400
    return jsonify(numbers=numbers), 201


@bp.post("/applications/<number>/<event_type>")
@requires("agent", "clerk", "admin")
def act(number: str, event_type: str):
    visible_application(number)
    if event_type not in TRANSITIONS:
        abort(404)
    if not role_may(current_operator().role, event_type):
        abort(403)
    step = bodies.decode(request.get_data(), bodies.Step)
    transition(_node().events, number, event_type, {**signed_by(current_operator()), **step.payload()})
    return jsonify(_summary(Application.get_by_id(number)))
