"""The station's own pages."""

from flask import Blueprint, current_app, redirect, render_template, url_for

from provisioning.region import LEVEL_NAMES

from ..auth import requires

bp = Blueprint("station", __name__)


@bp.get("/")
def index():
    node = current_app.extensions["onetrip"]
    return render_template("index.html", status=node.status(), level_name=LEVEL_NAMES[node.identity.level])


@bp.post("/sync")
@requires("agent", "clerk", "admin")
def sync_now():
    """Sync now rather than at the next interval; a failure shows as a page in plain words."""
    current_app.extensions["onetrip"].sync_once()
    return redirect(url_for("station.index") + "#sync")
