"""The station's own pages."""

from flask import Blueprint, current_app, render_template

from provisioning.region import LEVEL_NAMES

bp = Blueprint("station", __name__)


@bp.get("/")
def index():
    node = current_app.extensions["onetrip"]
    return render_template("index.html", status=node.status(), level_name=LEVEL_NAMES[node.identity.level])
