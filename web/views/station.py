"""The station's own pages."""

from importlib import resources

from flask import Blueprint, current_app, redirect, render_template, send_file, url_for

from node.seal_image import FONT_URL
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


@bp.get(FONT_URL)
def font():
    """The font we print with, for the pages and the seal's SVG too: a PC without Chinese fonts still
    shows Chinese (the stylesheet names it last, so a PC that has its own never downloads it)."""
    path = resources.files("node.data").joinpath("fonts", FONT_URL.rsplit("/", 1)[1])
    return send_file(str(path), mimetype="font/ttf", max_age=365 * 86400, conditional=True)
