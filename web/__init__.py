"""The Flask app factory. Views are thin adapters: no rule of the domain or the protocol lives here."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from node.config import NodeConfig
from node.link import status
from node.runtime import Node
from storage.database import release

from . import errors, headers
from .auth import current_operator
from .beijing import beijing
from .views import (
    admin,
    api,
    api_applications,
    auth,
    dashboard,
    enrol,
    followup,
    health,
    notices,
    printing,
    query,
    rating,
    seals,
    station,
    sync,
    usb,
    workbench,
)

SESSION_HOURS = 8


def create_app(config: NodeConfig | None = None, *, node: Node | None = None) -> Flask:
    """Build the app around a node; never starts the scheduler or touches the network."""
    if node is None:
        if config is None:
            raise ValueError("create_app needs a NodeConfig or a Node")
        node = Node.from_config(config)
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=node.keys.session,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=SESSION_HOURS),
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=SESSION_HOURS * 3600,
    )
    app.json.ensure_ascii = False
    app.extensions["onetrip"] = node
    csrf = CSRFProtect(app)  # every form; the machine endpoints below authenticate otherwise
    csrf.exempt(enrol.bp)
    csrf.exempt(api.bp)
    csrf.exempt(api_applications.bp)  # checks the same token itself, after the session (401 first)
    csrf.exempt(sync.bp)
    csrf.exempt(seals.api)
    csrf.exempt(query.api)  # no session: nothing a visitor's browser holds is used
    blueprints = (
        health,
        api,
        api_applications,
        enrol,
        auth,
        admin,
        dashboard,
        workbench,
        followup,
        notices,
        printing,
        rating,
        station,
        sync,
        seals,
        query,
        usb,
    )
    for module in blueprints:
        app.register_blueprint(module.bp)
    app.register_blueprint(seals.api)
    app.register_blueprint(query.api)
    app.add_template_filter(beijing)
    app.context_processor(
        lambda: {
            "operator": current_operator(),
            "node_identity": node.identity,
            "sync_link": status.link_status(node) if current_operator() else None,
        }
    )
    errors.init_app(app)
    headers.init_app(app)
    app.teardown_appcontext(lambda _exc: release())  # the request's connection back to the pool
    return app
