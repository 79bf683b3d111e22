"""The Flask app factory. Views are thin adapters: no rule of the domain or the protocol lives here."""

from __future__ import annotations

import secrets

from flask import Flask

from node.config import NodeConfig
from node.runtime import Node

from . import errors
from .views import api, enrol, health, station


def create_app(config: NodeConfig | None = None, *, node: Node | None = None) -> Flask:
    """Build the app around a node; never starts the scheduler or touches the network."""
    if node is None:
        if config is None:
            raise ValueError("create_app needs a NodeConfig or a Node")
        node = Node.from_config(config)
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secrets.token_bytes(32),
        JSON_AS_ASCII=False,
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
    )
    app.json.ensure_ascii = False
    app.extensions["onetrip"] = node
    for blueprint in (health.bp, api.bp, enrol.bp, station.bp):
        app.register_blueprint(blueprint)
    errors.init_app(app)
    return app
