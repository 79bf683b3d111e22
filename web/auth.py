"""Who is logged in, the decorator that asks for a role, and which applications they may see. The
account is read again on every request, so a disabled account stops working at once, not when its
session expires."""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import abort, current_app, g, redirect, request, session, url_for
from werkzeug.exceptions import Forbidden, Unauthorized

from node.cases.visibility import Viewer, access
from node.rules.deadlines import add_working_days
from provisioning.operators import must_change_password, session_epoch
from provisioning.region import CHINA, area_prefix
from storage.models import Application, Operator


def current_operator() -> Operator | None:
    """The account of this session, unless it is disabled or its sessions ended since (logout, new password)."""
    if "operator" not in g:
        username = session.get("username")
        operator = Operator.get_or_none(Operator.username == username) if username else None
        current = operator is not None and session.get("epoch") == session_epoch(username)
        g.operator = operator if current and not operator.disabled else None
    return g.operator


def requires(*roles: str) -> Callable:
    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            operator = current_operator()
            if operator is None:
                session.clear()
                if request.path.startswith("/api/"):  # a program is told, not sent to a login page it cannot fill
                    raise Unauthorized()
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))  # no bare "?"
            if request.endpoint != "auth.password" and must_change_password(operator.username):
                if request.path.startswith("/api/"):
                    raise Forbidden("须先在网页上修改初始密码（/password），之后才能使用 API")
                return redirect(url_for("auth.password"))
            if roles and operator.role not in roles:
                raise Forbidden()
            return view(*args, **kwargs)

        return wrapped

    return decorate


def current_viewer() -> Viewer:
    """The person logged in, as `node.cases.visibility`'s rule of who sees which applications knows them."""
    operator = current_operator()
    return Viewer(area_prefix(current_app.extensions["onetrip"].identity.region), operator.role, operator.station)


def visible_application(number: str) -> Application:
    """The application, if the person logged in may see it: every page, document and API answer about one
    application asks here, and every list, search and count adds the same rule's condition."""
    seen, row = access(number, current_viewer())
    if seen == "hidden":
        abort(404, f"没有办件 {number}")
    if seen == "forbidden":
        abort(403, "代办员只能查看本站点的办件")
    return row


def with_correction_date(node, asked: dict) -> dict:
    """A 补正 request with the resident's date: its working days counted from today (Beijing) with this
    window's holiday table. A count out of range gets no date; the domain refuses it in words."""
    days = asked.get("deadline_days", 15)
    if isinstance(days, int) and 0 < days <= 366:
        today = node.now().astimezone(CHINA).date()
        asked["deadline"] = add_working_days(today, days, node.reference.holidays()).due.isoformat()
    return asked


def signed_by(operator) -> dict:
    """Who takes a step, as the event records it: the login (for this node) and, for every paper printed
    anywhere, the real name and staff number, which another station may not know."""
    return {"by": operator.username, "by_name": operator.name} | (
        {"staff_no": operator.staff_no} if operator.staff_no else {}
    )
