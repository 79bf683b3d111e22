"""差评整改 and 办件回访 for a county hub's clerks and admins: the open rectification cases and each case's steps;
the month's call list and the call page, where alone the resident's phone is shown, each showing audited."""

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from node.hub.callbacks import DRAW_ON_DAY, call_list, call_of, draw_month, is_drawn, months, record_call
from node.hub.calls import callee_for_call
from node.hub.filters import known_items
from node.hub.rectifications import FollowUpRefused, case_of, open_cases, record_step, steps_of
from node.rules.callbacks import MINIMUM, PROBLEMS, SHARE_PERCENT, previous_month
from node.rules.rectification import DEADLINE_DAYS, FINDINGS, REVISIT_TRIES, REVISITED, STEP_NAMES, VERIFIED
from provisioning.region import CHINA

from ..auth import current_operator, requires, signed_by

bp = Blueprint("followup", __name__)


def _node():
    """The county hub, for one of its own clerks or admins: nobody else records these steps."""
    node = current_app.extensions["onetrip"]
    if node.identity.level != "county" or current_operator().station != node.identity.station:
        abort(403, "差评整改与办件回访由县级政务服务中心的管理员和窗口人员办理")
    return node


def _today(node):
    return node.now().astimezone(CHINA).date()


@bp.get("/rectifications/")
@requires("clerk", "admin")
def rectifications():
    node = _node()
    closed = request.args.get("closed") == "1"
    cases = open_cases(node.identity.station, _today(node), closed=closed)
    return render_template(
        "followup/rectifications.html",
        cases=cases,
        closed=closed,
        overdue=sum(1 for c in cases if c.overdue),
        deadline_days=DEADLINE_DAYS,
        items=known_items(node.reference.catalogues()),
    )


@bp.route("/rectifications/<number>", methods=["GET", "POST"])
@requires("clerk", "admin")
def rectification(number: str):
    """A case and the form of its next step; the resident's phone only while it waits for the 回访."""
    node, problems = _node(), []
    case = case_of(number, node.identity.station, _today(node))
    if case is None:
        abort(404, f"办件 {number} 没有整改案件")
    if request.method == "POST":
        form = request.form
        fields = {"note": form.get("note", "")}
        if case.next_step == VERIFIED:
            fields["finding"] = form.get("finding", "")
        if case.next_step == REVISITED:
            fields |= _answers(form)
        try:
            record_step(node, number, form.get("step", ""), fields, signed_by(current_operator()))
            return redirect(url_for("followup.rectification", number=number))
        except FollowUpRefused as exc:
            problems = exc.problems
    callee = None
    if case.next_step == REVISITED:
        callee = callee_for_call(node, number, current_operator().username, "差评整改回访")
    return render_template(
        "followup/rectification.html",
        case=case,
        steps=steps_of(number),
        step_names=STEP_NAMES,
        findings=FINDINGS,
        verify_step=VERIFIED,
        revisit_step=REVISITED,
        callee=callee,
        revisit_tries=REVISIT_TRIES,
        problems=problems,
        form=request.form,
        items=known_items(node.reference.catalogues()),
    )


def _answers(form) -> dict:
    """Reached and satisfied as the radios give them: a missing answer stays missing for the rule to name."""
    chosen = {"yes": True, "no": False}
    answers = {"reached": chosen.get(form.get("reached", ""))}
    if answers["reached"]:
        answers["satisfied"] = chosen.get(form.get("satisfied", ""))
    return {k: v for k, v in answers.items() if v is not None}


@bp.get("/callbacks/")
@requires("clerk", "admin")
def callbacks():
    node = _node()
    county, today = node.identity.station, _today(node)
    drawn = months(county)
    month = request.args.get("month") or (drawn[0].month if drawn else "")
    last = previous_month(today)
    return render_template(
        "followup/callbacks.html",
        months=drawn,
        month=month,
        lines=call_list(county, month, known_items(node.reference.catalogues())) if month else [],
        last_month=last,
        last_drawn=is_drawn(county, last),
        draw_on_day=DRAW_ON_DAY,
        share=SHARE_PERCENT,
        minimum=MINIMUM,
    )


@bp.post("/callbacks/draw")
@requires("clerk", "admin")
def draw():
    """Draw last month's sample now, rather than wait for the scheduler's day: the same list either way."""
    node = _node()
    today = _today(node)
    month = previous_month(today)
    try:
        draw_month(node, month, today)
    except FollowUpRefused as exc:
        abort(409, "；".join(exc.problems))
    return redirect(url_for("followup.callbacks", month=month))


@bp.route("/callbacks/<month>/<number>", methods=["GET", "POST"])
@requires("clerk", "admin")
def call(month: str, number: str):
    """One call: the resident's name and phone (each showing audited) and the outcome's form."""
    node, problems = _node(), []
    items = known_items(node.reference.catalogues())
    line = call_of(node.identity.station, month, number, items)
    if line is None:
        abort(404, f"{month} 的回访名单中没有办件 {number}")
    if request.method == "POST":
        form = request.form
        answers = _answers(form)
        try:
            record_call(
                node,
                month,
                number,
                answers.get("reached"),
                answers.get("satisfied"),
                form.getlist("problems") if answers.get("reached") else [],
                form.get("comment", ""),
                signed_by(current_operator()),
            )
            return redirect(url_for("followup.callbacks", month=month))
        except FollowUpRefused as exc:
            problems = exc.problems
    callee = None if line.reached else callee_for_call(node, number, current_operator().username, "办件回访")
    return render_template(
        "followup/call.html", line=line, callee=callee, problems=problems, choices=PROBLEMS, form=request.form
    )
