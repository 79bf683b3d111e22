"""好差评 through the rating page an agent turns toward the resident: `/rate/<token>`.

The token is the page's only credential. It never reads the staff session (an agent may be logged in on
the same browser; their authority is not the resident's): the rating is the resident's, recorded with the
channel, not an operator's name. The agent's side, issuing the token, is on the application's page."""

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from node.cases.intake import IntakeRefused
from node.cases.ratings import issue_token, rate_by_token, token_number
from node.rules.ratings import ADDITION_DAYS, GRADES, LOW_GRADES, REASONS

from ..auth import requires, visible_application

bp = Blueprint("rating", __name__)


def _node():
    return current_app.extensions["onetrip"]


@bp.post("/work/a/<number>/rating-token")
@requires("agent", "clerk", "admin")
def issue(number: str):
    """The agent asks the resident to rate: a new one-time token, the page opened on it."""
    visible_application(number)
    try:
        token = issue_token(number, _node().now())
    except IntakeRefused as exc:
        return render_template("rate/closed.html", problems=exc.problems), 409
    return redirect(url_for("rating.page", token=token))


@bp.route("/rate/<token>", methods=["GET", "POST"])
def page(token: str):
    node, form, problems = _node(), request.form, []
    number = token_number(token, node.now())
    if number is None:
        return render_template(
            "rate/closed.html", problems=["评价链接无效、已使用或已过期，请工作人员重新打开评价页面"]
        ), 410
    if request.method == "POST":
        grade, reasons, comment = form.get("grade", ""), form.getlist("reasons"), form.get("comment", "")
        if grade not in LOW_GRADES:
            reasons = []  # chosen before the resident changed their grade: hidden, not meant
        try:
            rate_by_token(node.events, token, grade, reasons, comment, node.now())
            return redirect(url_for("rating.thanks"))
        except IntakeRefused as exc:
            problems = exc.problems
    return render_template(
        "rate/page.html", number=number, grades=GRADES, low=LOW_GRADES, reasons=REASONS, form=form, problems=problems
    )


@bp.get("/rate/thanks")
def thanks():
    return render_template("rate/thanks.html", days=ADDITION_DAYS)
