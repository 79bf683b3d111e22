"""The workbench's actions as JSON under /api/v1/, described by /api/v1/openapi.json.

Same session login and roles as the pages; writes need the CSRF token in the `X-CSRFToken`
header (from GET /api/v1/csrf), so a page on another site cannot post on a clerk's behalf.
The token is checked here, once the session is known, not by the app-wide form check that runs
before every view: a call without a session answers 401, and one without the token is told
about the header, not about a form. Bodies are typed by `web.bodies` before the domain sees them.
"""

import io

from flask import Blueprint, Response, abort, current_app, jsonify, request, send_file
from flask_wtf.csrf import generate_csrf

from node.cases import deferrals
from node.cases.events import result_title
from node.cases.intake import Applicant, IntakeRefused, attach_scan, file_for_resident, read_scan, transition
from node.cases.queries import timeline
from node.printing.papers import KINDS as DOCUMENTS
from node.rules.deferrals import DEFAULT_DEFERRAL_DAYS
from node.rules.materials import MAX_SCAN_BYTES
from node.rules.workflow import TRANSITIONS, role_may
from node.seals.sealing import seal_document
from provisioning.region import CHINA
from storage.models import Application, Attachment

from .. import bodies
from ..auth import current_operator, requires, signed_by, visible_application, with_correction_date
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
        "deferral_owed": row.deferral_owed,
        "deferral_due": row.deferral_due.isoformat() if row.deferral_due else None,
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
            note=body.note,
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
    payload = {**signed_by(current_operator()), **step.payload()}
    node = _node()
    if event_type == "application.corrections_requested":
        payload = with_correction_date(node, payload)
    if event_type == deferrals.ACCEPTED:
        deferrals.accept(
            node.events,
            node.reference.catalogue(),
            node.reference.holidays(),
            number,
            payload,
            check=payload.pop("materials", None),
            deadline_days=payload.pop("deferral_days", DEFAULT_DEFERRAL_DAYS),
            today=node.now().astimezone(CHINA).date(),
        )
    elif event_type == deferrals.SUPPLIED:
        deferrals.supply(node.events, number, payload.pop("items", []), payload)
    elif event_type == deferrals.LAPSED:
        deferrals.end_lapsed(node.events, number, payload, node.now().astimezone(CHINA).date())
    else:
        transition(node.events, number, event_type, payload)
    return jsonify(_summary(Application.get_by_id(number)))


@bp.get("/applications/<number>/materials")
@requires("agent", "clerk", "admin")
def materials(number: str):
    """The scans, result files and sealed licences this node holds for the application."""
    visible_application(number)
    rows = Attachment.select().where(Attachment.number == number).order_by(Attachment.material)
    return jsonify(
        items=[
            {"material": a.material, "blob": a.blob, "content_type": a.content_type, "size": a.size, "by": a.by}
            for a in rows
        ]
    )


@bp.post("/applications/<number>/materials/<material>")
@requires("agent", "clerk", "admin")
def upload(number: str, material: str):
    """A scan (JPEG, PNG or PDF) as the raw body, under a material's key; `result:<title>` is a decision's
    result file, the deciding side's only, as on the page."""
    visible_application(number)
    if result_title(material) is not None and current_operator().role not in ("clerk", "admin"):
        abort(403)
    data = request.stream.read(MAX_SCAN_BYTES + 1)  # one byte more tells an oversize file from a full one
    node = _node()
    digest = attach_scan(
        node.events, node.identity, node.keys, node.blobs, number, material, data, current_operator().username
    )
    return jsonify(blob=digest), 201


@bp.get("/applications/<number>/materials/<material>")
@requires("agent", "clerk", "admin")
def material(number: str, material: str):
    """One file by its blob digest (the listing's `blob`), decrypted here."""
    visible_application(number)
    digest = material
    if not Attachment.select().where((Attachment.number == number) & (Attachment.blob == digest)).exists():
        abort(404)
    node = _node()
    content_type, data = read_scan(node.identity, node.keys, node.blobs, number, digest)
    return Response(data, mimetype=content_type, headers={"X-Content-Type-Options": "nosniff"})


@bp.post("/applications/<number>/documents/<doc>/sealed.pdf")
@requires("agent", "clerk")
def sealed(number: str, doc: str):
    """A paper sealed with one of this node's seals, the holder's PIN in the body: what a 自助终端 prints."""
    visible_application(number)
    if doc not in DOCUMENTS:
        abort(404)
    body = bodies.decode(request.get_data(), bodies.Sealing)
    paper = seal_document(
        _node(), operator=current_operator(), pin=body.pin, seal_id=body.seal, number=number, kind=doc, size=body.size
    )
    return send_file(io.BytesIO(paper.pdf), mimetype="application/pdf", download_name=paper.filename)
