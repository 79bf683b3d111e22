"""办件查询, open to anyone: the page (`/query`, a form with its CSRF token) and the JSON endpoint
(`POST /api/v1/query`, typed by `web.bodies.Query`; no session, so no CSRF token to carry: nothing a
visitor's browser holds is used). The domain (`node.cases.tracking`) decides what is told and when a case
is locked; every node answers for the cases it holds. A hub's public proxy exposes only these paths and the
static files (docs/operations.md, Public query page)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template, request
from werkzeug.datastructures import MultiDict

from node.cases import ratings
from node.cases.intake import IntakeRefused
from node.cases.ratings import addition_open, rateable_now
from node.cases.tracking import QueryGuard, QueryRefused, Tracking, look_up
from node.rules.ratings import ADDITION_DAYS, GRADES, REASONS
from provisioning.region import CHINA

from .. import bodies

bp = Blueprint("query", __name__)
api = Blueprint("query_api", __name__, url_prefix="/api/v1")


def _guard_once(state) -> None:
    state.app.extensions.setdefault("query_guard", QueryGuard())  # one per process: both blueprints share it


bp.record_once(_guard_once)
api.record_once(_guard_once)


def _look_up(code: str, id_tail: str) -> Tracking:
    node = current_app.extensions["onetrip"]
    return look_up(
        current_app.extensions["query_guard"],
        node.reference.catalogue(),
        code_or_number=code,
        id_tail=id_tail,
        client=request.remote_addr or "",  # the resident's, behind a `trusted_proxy` that forwards it
    )


def _page(
    status: int = 200,
    *,
    found: Tracking | None = None,
    error: str | None = None,
    code: str = "",
    problems: list[str] | None = None,
):
    """The form, or what was found; a case handed over and not yet rated also asks the resident to rate it."""
    tries = current_app.extensions["query_guard"].per_case.amount  # told before it happens
    rateable = found is not None and rateable_now(found.number)
    addable = found is not None and not rateable and addition_open(found.number, _today())
    page = render_template(
        "query.html",
        found=found,
        error=error,
        code=code,
        tries=tries,
        rateable=rateable,
        addable=addable,
        addition_days=ADDITION_DAYS,
        id_tail=request.form.get("id_tail", ""),
        problems=problems,
        rating_form=request.form if problems else MultiDict(),
        grades=GRADES,
        reasons=REASONS,
    )
    return page, status


def _today():
    return current_app.extensions["onetrip"].now().astimezone(CHINA).date()


@bp.get("/query")
def form():
    return _page(code=request.args.get("code", ""))


@bp.post("/query")
def answer():
    code = request.form.get("code", "")
    try:
        found = _look_up(code, request.form.get("id_tail", ""))
    except QueryRefused as exc:
        return _page(exc.http_status, error=str(exc), code=code)
    return _page(found=found)


@bp.post("/query/rate")
def rate():
    """The resident rates from the query page: the code and the ID tail are checked again, as for a lookup."""
    code, form = request.form.get("code", ""), request.form
    try:
        found = _look_up(code, form.get("id_tail", ""))
    except QueryRefused as exc:
        return _page(exc.http_status, error=str(exc), code=code)
    node = current_app.extensions["onetrip"]
    if form.get("action") == "add":
        try:
            ratings.add(node.events, found.number, form.get("comment", ""), "query", _today())
        except IntakeRefused as exc:
            return _page(400, found=found, problems=exc.problems)
        return render_template("rate/thanks.html", days=ADDITION_DAYS)
    try:
        ratings.rate(
            node.events, found.number, form.get("grade", ""), form.getlist("reasons"), form.get("comment", ""), "query"
        )
    except IntakeRefused as exc:
        return _page(400, found=found, problems=exc.problems)
    return render_template("rate/thanks.html", days=ADDITION_DAYS)


@api.post("/query")
def answer_json():
    body = bodies.decode(request.get_data(), bodies.Query)
    found = _look_up(body.code, body.id_tail)  # a refusal is answered by `web.errors` with its code
    return jsonify(
        number=found.number,
        item=found.item_name,
        masked_name=found.masked_name,
        state=found.state,
        timeline=[{"at": line.at.isoformat(), "body": line.body, "what": line.what} for line in found.timeline],
        due=found.due.isoformat() if found.due else None,
        due_provisional=found.due_provisional,
        promise=found.promise,
        missing=list(found.missing),
        deferred=list(found.deferred),
        deferral_note=found.deferral_note,
        collect=found.collect,
        results=list(found.results),
        licences=list(found.licences),
        parts=[{"number": p.number, "item": p.item_name, "state": p.state, "promise": p.promise} for p in found.parts],
    )
