"""The workbench: the queue, the catalogue, filing an application for a resident, and its page."""

import json

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, url_for

from node.cases import deferrals
from node.cases.conflicts import open_conflicts, settle
from node.cases.events import (
    CONFLICT_SETTLED,
    RESULT,
    STEP_NAMES,
    case_stream,
    deciding_place,
    licence_title,
    result_title,
)
from node.cases.intake import (
    Applicant,
    IntakeRefused,
    attach_scan,
    file_for_resident,
    new_request_token,
    read_filing,
    read_scan,
    transition,
)
from node.cases.marks import deadline_counts, deadline_marks
from node.cases.notices import printable_count
from node.cases.queries import case_items, timeline
from node.cases.ratings import TOKEN_MINUTES
from node.catalogue.model import FORMS
from node.errors import DomainError
from node.rules import deferrals as deferral_rules
from node.rules.deadlines import deemed_accepted
from node.rules.decisions import DEFAULT_KIND, decision_words
from node.rules.materials import MAX_SCAN_BYTES
from node.rules.ratings import describe
from node.rules.workflow import (
    DECIDED,
    DELIVERED,
    ON_AUTHORITY,
    PROCEDURES,
    STATE_NAMES,
    SUBMITTED,
    TRANSITIONS,
    level_problem,
    possible_actions,
    role_may,
)
from node.seals.sealing import SEAL_ROLES, usable_seals
from provisioning.authority import allows
from provisioning.region import CHINA, area_prefix
from storage.models import Application, Attachment, Operator, Station
from sync.errors import SyncError

from ..auth import current_operator, current_viewer, requires, signed_by, visible_application, with_correction_date
from ..listing import DUE_FILTERS, STATE_FILTERS, applications_page

bp = Blueprint("workbench", __name__, url_prefix="/work")


def _node():
    return current_app.extensions["onetrip"]


@bp.get("/")
@requires("agent", "clerk", "admin")
def queue():
    node = _node()
    page = applications_page(node, request.args)
    catalogue = node.reference.catalogue()
    stations = {row.station for row in page.rows}
    today = _today(node)
    return render_template(
        "work/queue.html",
        page=page,
        owing=deferrals.owing(current_viewer(), today),
        owed={  # 容缺 still owed per row, and whether past its last day
            row.number: (row.deferral_owed, row.deferral_due < today)
            for row in page.rows
            if row.deferral_owed and row.state in deferrals.OWING
        },
        marks=deadline_marks(page.rows),
        counts=deadline_counts(current_viewer()),
        to_print=printable_count(node, int(node.now().timestamp() * 1000)),
        conflicts=len(open_conflicts(area_prefix(node.identity.region))),
        filters=DUE_FILTERS,
        state_filters=STATE_FILTERS,
        states=STATE_NAMES,
        item_names={row.item_code: _item_name(catalogue, row.item_code, row.item_version) for row in page.rows},
        station_names=dict(Station.select(Station.code, Station.name).where(Station.code.in_(list(stations))).tuples()),
        q=request.args.get("q", ""),
        due=request.args.get("due", ""),
        state=request.args.get("state", ""),
    )


def _item_name(catalogue, code: str, version: int) -> str:
    """The item's name as the catalogue gives it; its code where this node lacks that version."""
    try:
        return catalogue.item(code, version).name
    except KeyError:
        return code


@bp.route("/conflicts", methods=["GET", "POST"])
@requires("clerk", "admin")
def conflicts():
    """Steps two levels took at once, one held back: the deciding level settles each with the resident."""
    node, problems = _node(), []
    if request.method == "POST":
        number, eid = request.form.get("number", ""), request.form.get("eid", "")
        visible_application(number)
        if not allows(node.events.trust.binding(node.identity.installation).authority, CONFLICT_SETTLED):
            abort(403)
        try:
            settle(node.events, number, eid, request.form.get("note", ""), current_operator().username)
            return redirect(url_for("workbench.conflicts"))
        except IntakeRefused as exc:
            problems = exc.problems
    found = open_conflicts(area_prefix(node.identity.region))
    return render_template("work/conflicts.html", conflicts=found, states=STATE_NAMES, problems=problems)


@bp.get("/catalogue")
@requires("agent", "clerk", "admin")
def catalogue():
    query = request.args.get("q", "")
    catalogue = _node().reference.catalogue()
    items = catalogue.search(query) if query.strip() else catalogue.current()
    bundles = catalogue.search_bundles(query) if query.strip() else list(catalogue.bundles.values())
    return render_template("work/catalogue.html", items=items, bundles=bundles, q=query)


@bp.route("/new", methods=["GET", "POST"])
@requires("agent", "clerk", "admin")
def new():
    """Intake for one item (`item=`) or a 一件事 bundle (`bundle=`): one form, the materials asked once."""
    node, form, problems = _node(), request.form, []
    catalogue = node.reference.catalogue()
    bundle = catalogue.bundles.get(request.values.get("bundle", ""))
    try:
        item = None if bundle else catalogue.item(request.values.get("item", ""))
    except KeyError:
        abort(404)
    if request.method == "POST":
        applicant = Applicant(
            form.get("name", ""), form.get("id_number", ""), form.get("phone", ""), form.get("address", "")
        )
        common = dict(
            applicant=applicant,
            consent=form.get("consent") == "yes",
            operator=current_operator().username,
            request_token=form.get("request_token", ""),
            now=node.now(),
            note=form.get("note", ""),
        )
        try:
            code = {"bundle_code": bundle.code} if bundle else {"item_code": item.code}
            numbers = file_for_resident(node, catalogue, **code, **common)
            return redirect(url_for("workbench.application", number=numbers[0]))
        except IntakeRefused as exc:
            problems = exc.problems
    token = form.get("request_token") or new_request_token()
    materials = [entry.material for entry in bundle.to_ask()] if bundle else list(item.materials)
    return render_template(
        "work/new.html", item=item, bundle=bundle, materials=materials, form=form, problems=problems, token=token
    )


@bp.get("/a/<number>")
@requires("agent", "clerk", "admin")
def application(number: str):
    return _application_page(number)


def _application_page(number: str, problems: list[str] = (), form=None, status: int = 200, refused: str = ""):
    """The application's page; after a refused step, with what was wrong (atop the page and beside the step's
    button, where the clerk is) and the form as the clerk left it."""
    node, operator = _node(), current_operator()
    row = visible_application(number)
    try:
        applicant, note = read_filing(number, node.identity, node.keys)
    except (SyncError, DomainError):
        applicant, note = None, ""  # purged here, or filed elsewhere: the masked number is all this node shows
    authority, level = _powers(node, row)
    actions = possible_actions(
        row.state,
        operator.role,
        lambda step: allows(authority, step) and not level_problem(step, level, node.identity.level),
    )
    attachments = list(Attachment.select().where(Attachment.number == number))
    results = [(result_title(a.material), a) for a in attachments if result_title(a.material) is not None]
    licences = {licence_title(a.material): a for a in attachments if licence_title(a.material) is not None}
    attachments = [a for a in attachments if result_title(a.material) is None and licence_title(a.material) is None]
    item = _item(row)
    deferral, today = deferral_rules.decode(row.deferral), _today(node)
    steps = timeline(number)
    logins = {step.by for step in steps if step.by} or {""}  # those this node knows are shown by real names
    actions = [a for a in actions if _offered(a, deferral, today)]
    checked = [] if "application.accepted" not in actions or item is None else _checked(row, form)
    return render_template(
        "work/application.html",
        problems=problems,
        refused=refused,
        form=form or {},
        checked=checked,
        checks=deferral_rules.CHECKS,
        forms=FORMS,
        any_deferrable=any(m.deferrable for m, _ in checked),
        deferral=deferral,
        deferral_overdue=bool(deferral and row.state in deferrals.OWING and deferral.overdue(today)),
        deferral_days=deferral_rules.DEFAULT_DEFERRAL_DAYS,
        attachments=attachments,
        results=results,
        licences=licences,
        row=row,
        applicant=applicant,
        note=note,
        steps=steps,
        people=dict(Operator.select(Operator.username, Operator.name).where(Operator.username.in_(logins)).tuples()),
        actions=actions,
        names=STEP_NAMES,
        states=STATE_NAMES,
        procedures=PROCEDURES,
        item=item,
        node_region=node.identity.region,
        station_name=Station.select(Station.name).where(Station.code == row.station).scalar() or row.station,
        writable=node.events.trust.may_write(node.identity.installation, case_stream(row)),
        material_names={m.key: m.name for m in item.materials} if item else {},
        decided=row.state in DECIDED,
        refused_words=decision_words(item.kind if item else DEFAULT_KIND, False),
        deemed=row.state == SUBMITTED and deemed_accepted(row.filed_on, _today(node), node.reference.holidays()),
        token_minutes=TOKEN_MINUTES,
        rateable=row.state == DELIVERED and row.rated_on is None,
        rating=describe(row.rating_grade, json.loads(row.rating_reasons or "[]")) if row.rating_grade else None,
        seals=usable_seals(node) if operator.role in SEAL_ROLES else [],
        on_the_spot=_on_the_spot(node, operator, row, item, authority, level),
        case=[
            (r, _item_name(node.reference.catalogue(), r.item_code, r.item_version))
            for r in (case_items(row.case_number) if row.case_number else [])
        ],
    ), status


def _offered(action: str, deferral, today) -> bool:
    """容缺's steps only where they mean something: supplying while a material is owed, ending once overdue."""
    if action == deferrals.SUPPLIED:
        return bool(deferral and deferral.owed)
    if action == deferrals.LAPSED:
        return bool(deferral and deferral.overdue(today))
    return True


def _checked(row: Application, form) -> list[tuple]:
    """The acceptance check's rows: each material to check and what is ticked, as the clerk left it after a
    refusal, else 电子件 where the station holds a scan and nothing where it does not (the clerk ticks it)."""
    try:
        materials = deferrals.to_check(_node().reference.catalogue(), row)
    except IntakeRefused:
        return []
    if form is not None:
        return [(m, form.get(f"check.{m.key}", "")) for m in materials]
    scanned = deferrals.scanned_check(materials, row.number)
    return [(m, "electronic" if scanned[m.key] == "electronic" else "") for m in materials]


def _deferral_step(number: str, event_type: str, payload: dict, form) -> None:
    """受理 on the clerk's check of each material (容缺 with its working days), 容缺 materials brought, or a case
    ended for a lapsed deferral. A form without a check (an old page) is taken on the scans held."""
    node = _node()
    if event_type == deferrals.ACCEPTED:
        check = {key.removeprefix("check."): value for key, value in form.items() if key.startswith("check.")}
        days = form.get("deferral_days", deferral_rules.DEFAULT_DEFERRAL_DAYS, type=int)
        deferrals.accept(
            node.events,
            node.reference.catalogue(),
            node.reference.holidays(),
            number,
            payload,
            check=check or None,
            deadline_days=days,
            today=_today(node),
        )
    elif event_type == deferrals.SUPPLIED:
        deferrals.supply(node.events, number, form.getlist("supplied"), payload)
    else:
        deferrals.end_lapsed(node.events, number, {**payload, "reason": form.get("reason", "")}, _today(node))


def _powers(node, row: Application) -> tuple[tuple[str, ...], str | None]:
    """What this installation may sign on a case, and the level its item's catalogue gives the decision to.
    Nothing where it may not write the case's stream: another county's 通办 case seen from the filing county."""
    installation = node.identity.installation
    authority = node.events.trust.binding(installation).authority
    if not node.events.trust.may_write(installation, case_stream(row)):
        authority = ()
    return authority, node.reference.deciding_level(row.item_code, row.item_version, deciding_place(row))


def _on_the_spot(node, operator, row: Application, item, authority, level) -> str | None:
    """当场办结 of a 即办 item waiting here: "decide" at a window that decides it (receipt, acceptance and
    decision in one step), "delegation" at a station the county authorised for it; else None."""
    if row.state != SUBMITTED or item is None or item.promised_limit.days != 0:
        return None
    may_decide = allows(authority, "application.decided") and not level_problem(
        "application.decided", level, node.identity.level
    )
    if may_decide and operator.role in ("clerk", "admin"):
        return "decide"
    if item.authorised(node.identity.station, "delegation") and operator.role in ("agent", "clerk"):
        return "delegation"
    return None


@bp.post("/a/<number>/on-the-spot")
@requires("agent", "clerk", "admin")
def on_the_spot(number: str):
    """当场办结, then the 办结通知书 at once."""
    node, operator = _node(), current_operator()
    row = visible_application(number)
    authority, level = _powers(node, row)
    mode = _on_the_spot(node, operator, row, _item(row), authority, level)
    if mode is None:
        abort(403)
    with node.events.transaction():
        if mode == "decide":
            transition(node.events, number, "application.accepted", signed_by(operator))
            transition(node.events, number, "application.decided", {**signed_by(operator), "approved": True})
        else:
            transition(node.events, number, ON_AUTHORITY, {**signed_by(operator), "basis": "delegation"})
    return redirect(url_for("printing.document", number=number, doc="decision"))


def _corrections(form) -> dict:
    """A 补正 request from the clerk's form: each item ticked or written, and the resident's date, counted in
    working days with this window's holiday table (the window's checks refuse what is wrong before it)."""
    items = [i.strip() for i in [*form.getlist("items"), form.get("other", "")] if i.strip()]
    asked = {"items": items, "deadline_days": form.get("deadline_days", 15, type=int), "reason": form.get("reason", "")}
    return with_correction_date(_node(), asked)


def _today(node):
    return node.now().astimezone(CHINA).date()


def _item(row: Application):
    """The catalogue version the application was filed under; None if this node's catalogue lacks it."""
    try:
        return _node().reference.catalogue().item(row.item_code, row.item_version)
    except KeyError:
        return None


@bp.post("/a/<number>/materials")
@requires("agent", "clerk", "admin")
def upload(number: str):
    visible_application(number)
    node, upload = _node(), request.files.get("scan")
    data = upload.read(MAX_SCAN_BYTES + 1) if upload else b""
    material = request.form.get("material", "")
    if "result_title" in request.form:  # a decision's result file: the deciding side's, not the agent's
        if current_operator().role not in ("clerk", "admin"):
            abort(403)
        material = RESULT + request.form.get("result_title", "").strip()
    attach_scan(
        node.events,
        node.identity,
        node.keys,
        node.blobs,
        number,
        material,
        data,
        current_operator().username,
    )
    return redirect(url_for("workbench.application", number=number))


@bp.get("/a/<number>/materials/<digest>")
@requires("agent", "clerk", "admin")
def scan(number: str, digest: str):
    node = _node()
    visible_application(number)
    if not Attachment.select().where((Attachment.number == number) & (Attachment.blob == digest)).exists():
        abort(404)
    content_type, data = read_scan(node.identity, node.keys, node.blobs, number, digest)
    return Response(data, mimetype=content_type, headers={"X-Content-Type-Options": "nosniff"})


@bp.post("/a/<number>/<event_type>")
@requires("agent", "clerk", "admin")
def act(number: str, event_type: str):
    operator, form = current_operator(), request.form
    visible_application(number)
    if event_type not in TRANSITIONS:
        abort(404)
    if not role_may(operator.role, event_type):
        abort(403)
    payload = signed_by(operator)
    if event_type in (deferrals.ACCEPTED, deferrals.SUPPLIED, deferrals.LAPSED):
        try:
            _deferral_step(number, event_type, payload, form)
        except IntakeRefused as exc:  # said on the same page, the clerk's ticks kept
            return _application_page(number, exc.problems, form, 400, event_type)
        return redirect(url_for("workbench.application", number=number))
    if event_type == "application.decided":
        payload.update(approved=form.get("approved") == "yes", reason=form.get("reason", ""))
    elif event_type == "application.corrections_requested":
        payload.update(_corrections(form))
    elif event_type in ("application.withdrawn", "application.not_accepted"):
        payload["reason"] = form.get("reason", "")
    elif event_type == "application.suspended":
        payload.update(procedure=form.get("procedure", ""), reason=form.get("reason", ""))
    transition(_node().events, number, event_type, payload)
    return redirect(url_for("workbench.application", number=number))
