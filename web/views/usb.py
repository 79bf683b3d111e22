"""USB-stick sync from the browser, for a village or township PC without a command line: 导出同步包 (what the
parent lacks, sealed to it), 导入同步包 (a child's, answered with a return bundle to carry back) and 导入回执
(the parent's return bundle). The same code as `onetrip export` / `import`; the outcome said in words."""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path

from flask import Blueprint, abort, current_app, render_template, request, send_file, send_from_directory

from node import files
from node.errors import DomainError
from node.link import downstream, usb
from provisioning.errors import ProvisioningError
from provisioning.region import CHINA
from storage.errors import DiskFull
from sync import sneakernet
from sync.errors import SyncError

from ..auth import requires

bp = Blueprint("usb", __name__, url_prefix="/sync/usb")

# A bundle carries the scans a round moves, so it may be far larger than a form (16 MB); it is read as it
# is uploaded, never held whole in memory.
MAX_BUNDLE_BYTES = 1024 * 1024 * 1024
RETURNS = "usb-returns"  # in the data dir: return bundles written here wait to be saved to the stick
REFUSALS = (SyncError, ProvisioningError, DomainError, DiskFull, OSError)


def _node():
    return current_app.extensions["onetrip"]


def _returns() -> Path:
    return Path(_node().config.data_dir) / RETURNS


@bp.before_request
def _bundles_may_be_large() -> None:
    request.max_content_length = MAX_BUNDLE_BYTES


def _page(status: int = 200, **outcome):
    held = (
        sorted(_returns().glob("*.otb"), key=lambda p: p.stat().st_mtime, reverse=True) if _returns().exists() else []
    )
    has_parent = bool(_node().identity.parent)
    return render_template("usb.html", returns=[p.name for p in held[:10]], has_parent=has_parent, **outcome), status


@bp.get("/")
@requires("agent", "clerk", "admin")
def page():
    return _page()


@bp.post("/export")
@requires("agent", "clerk", "admin")
def export():
    """The bundle for the parent, as a file the browser saves (to the stick)."""
    node = _node()
    out = io.BytesIO()
    try:
        usb.export_bundle(node, out)
    except REFUSALS as exc:
        return _page(400, error=f"没有导出：{exc}")
    name = f"同步包-{node.identity.station}-{dt.datetime.now(CHINA):%Y%m%d-%H%M}.otb"
    out.seek(0)
    return send_file(out, mimetype="application/octet-stream", as_attachment=True, download_name=name)


@bp.post("/import")
@requires("agent", "clerk", "admin")
def import_():
    """A child's bundle (answered with a return bundle kept here to save) or the parent's return bundle."""
    upload = request.files.get("bundle")
    if upload is None or not upload.filename:
        return _page(400, error="请先选择U盘上的同步包文件（.otb）")
    node = _node()
    try:
        bundle = sneakernet.read(upload.stream)
        if usb.from_parent(node, bundle):
            report = usb.import_return(node, bundle)
            said = f"回执包已导入：收到 {report.pulled} 个事件（应用 {report.applied} 个），本轮同步完成。"
            return _page(done=said)
        _returns().mkdir(exist_ok=True)
        name = f"回执包-{dt.datetime.now(CHINA):%Y%m%d-%H%M%S}.otb"
        with files.written_atomically(_returns() / name) as sink:
            downstream.import_bundle(node, bundle, sink)
    except REFUSALS as exc:
        return _page(400, error=f"没有导入，本机数据未改动：{exc}")
    return _page(done="下级的同步包已导入。请把下面的回执包保存到U盘，带回下级导入：", ready=name)


@bp.get("/returns/<name>")
@requires("agent", "clerk", "admin")
def saved_return(name: str):
    if not re.fullmatch(r"回执包-\d{8}-\d{6}\.otb", name):
        abort(404)
    return send_from_directory(_returns(), name, as_attachment=True, mimetype="application/octet-stream")
