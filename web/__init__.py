"""The Flask app factory. Views are thin adapters: no rule of the domain or the protocol lives here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from node.config import NodeConfig
from node.firststart import has_installation
from node.link import status
from node.rules.holidays import next_year_missing
from node.runtime import Node
from provisioning.region import CHINA
from storage.database import release

from . import errors, firststart, headers
from .auth import current_operator
from .beijing import beijing
from .sync_endpoints import SyncEndpoints
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
    releases,
    seals,
    setup,
    station,
    usb,
    workbench,
)

SESSION_HOURS = 8


def _calendar_missing(node) -> int | None:
    """Next year, when a hub's admin should publish its holiday table and has not (from 1 October)."""
    operator = current_operator()
    if operator is None or operator.role != "admin" or node.identity.level not in ("county", "city"):
        return None
    return next_year_missing(node.reference.holidays(), node.now().astimezone(CHINA).date())


def create_app(
    config: NodeConfig | None = None, *, node: Node | None = None, on_ready: Callable[[Node], None] | None = None
) -> Flask:
    """Build the app around a node; never starts the scheduler or touches the network. A station not set up
    yet has its every page lead to the setup pages, and `on_ready(node)` is called once they are done."""
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
        seals,
        query,
        usb,
        setup,
        releases,
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
            "setting_up": False,
            "calendar_missing": _calendar_missing(node),
        }
    )
    errors.init_app(app)
    headers.init_app(app)
    app.teardown_appcontext(lambda _exc: release())  # the request's connection back to the pool
    firststart.guard(app, node, on_ready)
    app.wsgi_app = SyncEndpoints(node, app.wsgi_app, app.config["MAX_CONTENT_LENGTH"])  # beside Flask, not in it
    return app


def serving_app(config: NodeConfig, on_ready: Callable[[Node], None]):
    """What `onetrip serve` runs: the node's app, or on a data dir with no installation yet the setup pages
    first. `on_ready(node)` is called once the node is set up: at once if it is already."""
    if not has_installation(config.data_dir):
        return firststart.FirstStart(config, on_ready, create_app)
    node = Node.from_config(config)
    app = create_app(node=node, on_ready=on_ready)
    if app.extensions["onetrip.setup"].done:
        on_ready(node)
    return app
