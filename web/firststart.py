"""How the app starts on a PC not yet set up: a data dir with no installation is served by the setup pages
alone until enrolment makes one, then by the node's app; a station not yet set up has every page lead to
`/setup` (static files, `/healthz` and the JSON endpoints aside) until its first admin is made. Then
`on_ready` starts the node's periodic jobs, which `serve` would otherwise start at once."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from flask import Flask, jsonify, redirect, request, url_for
from flask_wtf.csrf import CSRFProtect

from node.config import NodeConfig
from node.firststart import DONE, stage
from node.printing.stamp import FONT_URL
from node.runtime import Node

from . import errors, headers
from .views import health, setup, station

OPEN_ENDPOINTS = ("static", "health.healthz", "station.font")  # served whatever the setup's stage


class Setup:
    """The setup's state in an app (`app.extensions["onetrip.setup"]`): the node once there is one, and what
    to do when the setup is over (`on_ready`) or when enrolment has made the installation (`installed`)."""

    def __init__(self, config: NodeConfig, on_ready: Callable[[Node], None], node: Node | None = None):
        self.config, self.node, self.on_ready = config, node, on_ready
        self.done = node is not None and stage(node) == DONE
        self.lock = threading.Lock()
        self.installed: Callable[[Node], None] = lambda node: None

    def finish(self, node: Node) -> None:
        with self.lock:
            if self.done:
                return
            self.done = True
        self.on_ready(node)


def guard(app: Flask, node: Node, on_ready: Callable[[Node], None] | None) -> None:
    """Attach the setup's state; while the PC is not set up, every page leads to /setup."""
    state = Setup(node.config, on_ready or (lambda node: None), node)
    app.extensions["onetrip.setup"] = state
    if state.done:
        return

    @app.before_request
    def _until_set_up():
        if state.done or _open(request):
            return None
        if stage(node) == DONE:  # set up meanwhile (on the command line, say)
            state.finish(node)
            return None
        return redirect(url_for("setup.start"))


def _open(request) -> bool:
    """Served whatever the setup's stage: static files, the setup pages, and the machine endpoints under /api/
    (status, sync, enrolment), which authenticate by their own means and answer programs in JSON."""
    endpoint = request.endpoint or ""
    return endpoint in OPEN_ENDPOINTS or endpoint.startswith("setup.") or request.path.startswith("/api/")


class FirstStart:
    """The WSGI app of `serve` on a data dir with no installation: the setup pages until enrolment makes the
    installation, then the node's app, built by `make_app(node, on_ready)`."""

    def __init__(self, config: NodeConfig, on_ready: Callable[[Node], None], make_app: Callable[..., Flask]):
        self.state = Setup(config, on_ready)
        self.state.installed = self._installed
        self._make_app = make_app
        self._ready: Flask | None = None
        self.app = _setup_pages(self.state)

    def _installed(self, node: Node) -> None:
        self.state.node = node
        self._ready = self._make_app(node=node, on_ready=self.state.on_ready)

    def __call__(self, environ, start_response):
        return (self._ready or self.app)(environ, start_response)


def _setup_pages(state: Setup) -> Flask:
    """The setup pages alone, before the PC has keys: the session (and so CSRF) is signed with a key made
    now, which the installation then keeps as its own session key."""
    app = Flask("web")
    app.config.update(
        SECRET_KEY=os.urandom(32),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
    )
    app.extensions["onetrip.setup"] = state
    CSRFProtect(app)
    app.register_blueprint(setup.bp)
    app.add_url_rule(FONT_URL, "station.font", station.font)
    app.add_url_rule("/healthz", "health.healthz", health.healthz)  # the version too: a switch checks it

    @app.before_request
    def _to_setup():
        if request.path.startswith("/api/"):  # no installation to answer for: a program is told so
            return jsonify(error="not_set_up", message="本机尚未完成设置：请在浏览器中打开 /setup"), 503
        if _open(request):
            return None
        return redirect(url_for("setup.start"))

    app.context_processor(lambda: {"operator": None, "node_identity": None, "sync_link": None, "setting_up": True})
    errors.init_app(app)
    headers.init_app(app)
    return app
