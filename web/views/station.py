"""The station's own pages."""

from importlib import resources

from flask import Blueprint, current_app, jsonify, redirect, render_template, send_file, url_for

from node.link import status
from node.printing.stamp import FONT_URL
from provisioning.region import LEVEL_NAMES

from ..auth import requires
from ..beijing import beijing

bp = Blueprint("station", __name__)


@bp.get("/")
def index():
    node = current_app.extensions["onetrip"]
    return render_template(
        "index.html",
        status=node.status(),
        level_name=LEVEL_NAMES[node.identity.level],
        syncing=node.syncing.locked(),
    )


@bp.post("/sync")
@requires("agent", "clerk", "admin")
def sync_now():
    """Start a round rather than wait for the next interval, and return at once: a parent that does not
    answer must not hold the browser. The page shows the round under way, then its outcome."""
    current_app.extensions["onetrip"].sync_in_background()
    return redirect(url_for("station.index") + "#sync")


@bp.get("/sync/status")
@requires("agent", "clerk", "admin")
def sync_status():
    """Whether a round is under way, and the last outcome in words: what the home page's script asks."""
    node = current_app.extensions["onetrip"]
    link = status.link_status(node)
    running = node.syncing.locked()
    if running:
        message = "正在与上级同步…"
    elif link is None:
        message = "本节点没有上级，不需要同步"
    elif link.last_error:
        message = f"上次同步失败：{link.last_error}"
    else:
        message = f"同步完成（北京时间 {beijing(link.last_success)}）"
    return jsonify(
        running=running,
        message=message,
        last_success=link and link.last_success,
        last_error=link and link.last_error,
    )


@bp.get(FONT_URL)
def font():
    """The font we print with, for the pages and the seal's SVG too: a PC without Chinese fonts still
    shows Chinese (the stylesheet names it last, so a PC that has its own never downloads it)."""
    path = resources.files("node.printing").joinpath("fonts", FONT_URL.rsplit("/", 1)[1])
    return send_file(str(path), mimetype="font/ttf", max_age=365 * 86400, conditional=True)
