"""The setup pages of a fresh village or township PC (`/setup`): the level, the enrolment (the code or the QR
code's text online; the county's bundle from a USB stick offline, then its request and grant carried), and
the first admin account. The steps are `node.firststart`'s; the app's gate sends every page here until done."""

from __future__ import annotations

import io
import re

from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)

from node.errors import DomainError
from node.firststart import (
    ADMIN,
    DONE,
    ENROL,
    GRANT,
    MAX_FILE_BYTES,
    STATION_LEVELS,
    code_matches,
    create_first_admin,
    enrol_initialised,
    enrol_new,
    install_grant,
    request_file,
    stage,
)
from node.fleet.joining import parse_qr
from provisioning.errors import EnrolmentRefused, ProvisioningError
from provisioning.operators import MIN_PASSWORD, session_epoch
from provisioning.region import LEVEL_NAMES
from sync.errors import SyncError

from .auth import home_for

bp = Blueprint("setup", __name__, url_prefix="/setup")
PROOF = "setup_proof"  # in the session: this browser enrolled the PC or installed its grant
REFUSALS = (ProvisioningError, DomainError, SyncError)
_CODE_IN_NAME = re.compile(r"[0-9A-Za-z]{4}-[0-9A-Za-z]{4}-[0-9A-Za-z]{3}")  # 注册包-XXXX-XXXX-XXX.bundle


def _setup():
    return current_app.extensions["onetrip.setup"]


def _node():
    """The node, once this PC has an installation (made by this request or another one); None before."""
    return current_app.extensions.get("onetrip") or _setup().node


@bp.get("/")
def start():
    node = _node()
    now = stage(node)
    if now == DONE:
        return redirect("/")
    if now == GRANT:
        return _grant_page()
    if now == ADMIN:
        return _admin_page()
    if node is not None:  # initialised on the command line: its level is chosen already
        return _enrol_page(node.identity.level)
    level = request.args.get("level", "")
    if level in STATION_LEVELS:
        return _enrol_page(level)
    return _render("setup/level.html", levels={k: LEVEL_NAMES[k] for k in STATION_LEVELS})


@bp.post("/enrol")
def enrol():
    node, form = _node(), request.form
    level = node.identity.level if node is not None else form.get("level", "")
    if stage(node) != ENROL or level not in STATION_LEVELS:
        return redirect(url_for("setup.start"))
    try:
        code, hub, fingerprint, bundle = _enrolment(form)
    except REFUSALS as exc:
        return _enrol_page(level, error=str(exc), status=400)
    with _setup().lock:  # one enrolment at a time: a second click waits, then finds the PC enrolled
        return _enrol(node, level, code, hub, fingerprint, bundle)


def _enrol(node, level: str, code: str, hub: str, fingerprint: str | None, bundle: bytes | None):
    if stage(_node()) != ENROL:
        return redirect(url_for("setup.start"))
    try:
        if node is None:
            node = enrol_new(
                _setup().config,
                level,
                code,
                bundle=bundle,
                hub_url=hub,
                fingerprint=fingerprint,
                session_key=current_app.secret_key,
            )
            _setup().installed(node)
        else:
            enrol_initialised(node, code, bundle=bundle, hub_url=hub, fingerprint=fingerprint)
    except REFUSALS as exc:
        return _enrol_page(level, error=str(exc), status=400)
    session[PROOF] = node.identity.installation
    return redirect(url_for("setup.start"))


def _enrolment(form) -> tuple[str, str, str | None, bytes | None]:
    """(code, hub address, fingerprint, bundle) from the form: the QR code's text, or the code typed with the
    hub's address; or the bundle file, its code typed or read from the file's name as the county saved it."""
    if form.get("mode") == "offline":
        upload = request.files.get("bundle")
        if upload is None or not upload.filename:
            raise EnrolmentRefused("请先选择U盘上的注册包文件（.bundle）")
        bundle = upload.read(MAX_FILE_BYTES + 1)
        if len(bundle) > MAX_FILE_BYTES:
            raise EnrolmentRefused("这个文件太大，不是注册包：请选择县里给的注册包文件")
        code = form.get("code", "").strip()
        if not code and (found := _CODE_IN_NAME.search(upload.filename)):
            code = found.group(0)
        if not code:
            raise EnrolmentRefused("请填写注册码：县里随注册包一起给出（文件名中通常也有）")
        return code, "", None, bundle
    if qr := form.get("qr", "").strip():
        hub, code, fingerprint = parse_qr(qr)
        return code, hub, fingerprint, None
    code = form.get("code", "").strip()
    if not code:
        raise EnrolmentRefused("请填写注册码，或粘贴二维码的文字")
    return code, form.get("hub", ""), None, None


@bp.get("/request")
def request_download():
    node = _node()
    data = request_file(node) if stage(node) == GRANT else None
    if data is None:
        return redirect(url_for("setup.start"))
    name = f"注册请求-{node.identity.station}.request"
    return send_file(io.BytesIO(data), mimetype="application/octet-stream", as_attachment=True, download_name=name)


@bp.post("/grant")
def grant():
    node = _node()
    if stage(node) != GRANT:
        return redirect(url_for("setup.start"))
    upload = request.files.get("grant")
    try:
        install_grant(node, upload.read(MAX_FILE_BYTES) if upload else b"")
    except REFUSALS as exc:
        return _grant_page(error=f"没有安装：{exc}", status=400)
    session[PROOF] = node.identity.installation
    return redirect(url_for("setup.start"))


@bp.post("/admin")
def admin():
    node, form = _node(), request.form
    if stage(node) != ADMIN:
        return redirect(url_for("setup.start"))
    if not _proven(node) and not code_matches(node, form.get("code", "")):
        return _admin_page(error="请填写本机注册时用的注册码：在这台电脑上完成注册的浏览器已关闭", status=400)
    try:
        operator = create_first_admin(
            node,
            username=form.get("username", ""),
            name=form.get("name", ""),
            staff_no=form.get("staff_no", ""),
            password=form.get("password", ""),
            again=form.get("again", ""),
        )
    except REFUSALS as exc:
        return _admin_page(error=str(exc), status=400)
    _setup().finish(node)
    session.clear()
    session.permanent = True
    session["username"] = operator.username
    session["epoch"] = session_epoch(operator.username)
    return redirect(home_for(operator))


def _proven(node) -> bool:
    return session.get(PROOF) == node.identity.installation


def _render(template: str, status: int = 200, **values):
    return render_template(template, setting_up=True, **values), status


def _enrol_page(level: str, error: str | None = None, status: int = 200):
    return _render(
        "setup/enrol.html",
        status,
        level=level,
        level_name=LEVEL_NAMES[level],
        fixed=_node() is not None,
        error=error,
        form=request.form,
        mode=request.form.get("mode", ""),
    )


def _grant_page(error: str | None = None, status: int = 200):
    node = _node()
    return _render(
        "setup/grant.html", status, identity=node.identity, has_request=request_file(node) is not None, error=error
    )


def _admin_page(error: str | None = None, status: int = 200):
    node = _node()
    return _render(
        "setup/admin.html",
        status,
        identity=node.identity,
        proven=_proven(node),
        min_password=MIN_PASSWORD,
        error=error,
        form=request.form,
    )
