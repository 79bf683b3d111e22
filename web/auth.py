"""Who is logged in, and the decorator that asks for a role. The account is read again on every
request, so a disabled account stops working at once, not when its session expires."""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import g, redirect, request, session, url_for
from werkzeug.exceptions import Forbidden

from provisioning.operators import must_change_password
from storage.models import Operator


def current_operator() -> Operator | None:
    if "operator" not in g:
        username = session.get("username")
        operator = Operator.get_or_none(Operator.username == username) if username else None
        g.operator = operator if operator is not None and not operator.disabled else None
    return g.operator


def requires(*roles: str) -> Callable:
    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            operator = current_operator()
            if operator is None:
                session.clear()
                return redirect(url_for("auth.login", next=request.full_path))
            if request.endpoint != "auth.password" and must_change_password(operator.username):
                return redirect(url_for("auth.password"))
            if roles and operator.role not in roles:
                raise Forbidden()
            return view(*args, **kwargs)

        return wrapped

    return decorate
