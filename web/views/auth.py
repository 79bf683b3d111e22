"""Logging in and out, and changing one's password."""

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for

from provisioning.errors import ProvisioningError
from provisioning.operators import (
    LOCKOUT,
    MAX_FAILURES,
    MIN_PASSWORD,
    LoginRefused,
    authenticate,
    change_password,
    end_sessions,
    must_change_password,
    session_epoch,
)

from ..auth import current_operator, requires

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    error, username = None, ""
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        try:
            operator = authenticate(username, request.form.get("password", ""), current_app.extensions["onetrip"].now())
        except LoginRefused as exc:
            error = str(exc)
        else:
            session.clear()
            session.permanent = True
            session["username"] = operator.username
            session["epoch"] = session_epoch(operator.username)
            if must_change_password(operator.username):
                return redirect(url_for("auth.password"))
            return redirect(_local_target(request.args.get("next", "")) or home_for(operator))
    # The name stays typed after a refusal, the cursor in the password: only the password is typed again.
    page = render_template(
        "login.html",
        error=error,
        username=username,
        max_failures=MAX_FAILURES,
        lockout_minutes=LOCKOUT.seconds // 60,
    )
    return page, 200 if error is None else 401


def home_for(operator) -> str:
    """Where a person's work is: the queue for agents and clerks, the fleet for a hub's admins. The node's
    technical status (系统状态) is one menu item away, not the first page anyone sees."""
    if operator.role == "admin" and current_app.extensions["onetrip"].identity.level in ("county", "city"):
        return url_for("admin.fleet_page")
    return url_for("workbench.queue")


def _local_target(target: str) -> str | None:
    """A path on this node, or None: never a redirect to another host, however it is spelt."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    if any(ord(c) < 32 or c in "\\ " for c in target):  # browsers drop tabs and read \ as /
        return None
    return target


@bp.post("/logout")
def logout():
    """Ends every session of the account, not only this browser's: a cookie copied before is dead too."""
    operator = current_operator()
    if operator is not None:
        end_sessions(operator.username)
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@requires()
def password():
    error, username = None, current_operator().username
    if request.method == "POST":
        new, old = request.form.get("new", ""), request.form.get("old", "")
        if new != request.form.get("again", ""):
            error = "两次输入的新密码不一致"
        else:
            try:
                session["epoch"] = change_password(
                    username,
                    old,
                    new,
                    current_app.extensions["onetrip"].now(),
                )
                flash("新密码已保存。其他电脑上用这个账号登录的，需要用新密码重新登录。")
                return redirect(home_for(current_operator()))
            except ProvisioningError as exc:
                error = str(exc)
    return render_template(
        "password.html", error=error, forced=must_change_password(username), min_password=MIN_PASSWORD
    )
