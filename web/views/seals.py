"""Seal pages: verify a document (open to anyone), seal a document, the seal's image, and the county's
seal administration. The endpoint a holder's installation posts its sealed request to is in `seal_api`."""

import io

from flask import Blueprint, Response, current_app, redirect, render_template, request, send_file, url_for

from node.errors import DomainError
from node.printing.papers import KINDS as DOCUMENTS
from node.printing.stamp import draw, to_svg
from node.seals import lifecycle as seals
from node.seals.records import KINDS, SealRefused
from node.seals.sealing import seal_document, seal_licence
from node.seals.verification import verify
from provisioning.errors import ProvisioningError
from provisioning.seal_keys import change_pin, key_path
from storage.models import Seal, SealOrder, SealUse
from sync.errors import SyncError

from ..auth import current_operator, requires, visible_application

bp = Blueprint("seals", __name__)
api = Blueprint("seal_api", __name__, url_prefix="/api/v1/seals")
MAX_REQUEST_BYTES = 64 * 1024


def _node():
    return current_app.extensions["onetrip"]


@bp.route("/verify", methods=["GET", "POST"])
def verify_page():
    """No login: a resident, a bank or another office checks a document with this node's trust anchors."""
    verdict, error = None, None
    if request.method == "POST":
        upload = request.files.get("pdf")
        try:
            verdict = verify(_node(), pdf=upload.read() if upload else None, text=request.form.get("qr"))
        except (DomainError, ProvisioningError) as exc:  # said on the page, next to the form
            error = str(exc)
    return render_template("verify.html", verdict=verdict, error=error, form=request.form)


@bp.post("/work/a/<number>/seal/<doc>.pdf")
@requires("agent", "clerk")
def seal(number: str, doc: str):
    if doc not in DOCUMENTS:
        return redirect(url_for("workbench.application", number=number))
    visible_application(number)
    sealed = seal_document(
        _node(),
        operator=current_operator(),
        pin=request.form.get("pin", ""),
        seal_id=request.form.get("seal", ""),
        number=number,
        kind=doc,
        size=request.form.get("size", "A4"),
    )
    return send_file(io.BytesIO(sealed.pdf), mimetype="application/pdf", download_name=sealed.filename)


@bp.post("/work/a/<number>/results/<blob>/licence.pdf")
@requires("clerk")
def licence(number: str, blob: str):
    """A result file sealed as 电子证照 by the deciding body; kept beside the result and named in the query."""
    visible_application(number)
    sealed = seal_licence(
        _node(),
        operator=current_operator(),
        pin=request.form.get("pin", ""),
        seal_id=request.form.get("seal", ""),
        number=number,
        blob=blob,
    )
    return send_file(io.BytesIO(sealed.pdf), mimetype="application/pdf", download_name=sealed.filename)


@bp.get("/seals/<seal_id>.svg")
def image(seal_id: str):
    found = Seal.get_or_none(Seal.seal_id == seal_id)
    if found is None:
        return Response("没有这枚印章", status=404, mimetype="text/plain")
    return Response(to_svg(draw(found.owner, found.name)), mimetype="image/svg+xml")


@bp.route("/admin/seals", methods=["GET", "POST"])
@requires("admin")
def admin():
    error, ordered = None, None
    if request.method == "POST":
        form = request.form
        try:
            ordered = seals.order_seal(
                _node(),
                station=form.get("station", "").strip(),
                kind=form.get("kind", ""),
                name=form.get("name", "") or KINDS.get(form.get("kind", ""), ""),
                owner=form.get("owner", ""),
                credit_code=form.get("credit_code", ""),
                valid_days=form.get("days", 0, type=int),
                actor=current_operator().username,
            )
        except SealRefused as exc:
            error = str(exc)
    return _admin_page(error=error, ordered=ordered)


def _admin_page(error: str | None = None, ordered=None) -> str:
    return render_template(
        "admin/seals.html",
        seals=list(Seal.select().order_by(Seal.seal_id)),
        orders=list(SealOrder.select().where(SealOrder.issued == False).order_by(SealOrder.seal_id)),  # noqa: E712
        uses=list(SealUse.select().order_by(SealUse.used_at.desc()).limit(50)),
        kinds=KINDS,
        ordered=ordered,
        error=error,
        form=request.form,
    )


@bp.post("/admin/seals/<seal_id>/revoke")
@requires("admin")
def revoke(seal_id: str):
    seals.revoke_seal(_node(), seal_id, request.form.get("reason") or "管理员吊销", actor=current_operator().username)
    return redirect(url_for("seals.admin"))


@bp.post("/admin/seals/accept")
@requires("admin")
def accept_request():
    """A holder's request carried on a USB stick: answered with the grant file to carry back."""
    upload = request.files.get("request")
    try:
        grant = seals.grant_seal(_node(), upload.read(MAX_REQUEST_BYTES + 1) if upload else b"")
    except (DomainError, ProvisioningError, SyncError) as exc:
        return _admin_page(error=f"没有受理：{exc}"), 400
    return _download(grant, "印章证书回执.grant")


@bp.route("/seals/mine", methods=["GET", "POST"])
@requires("admin", "agent", "clerk")
def mine():
    """The holder's side, without a command line: ask for an ordered seal (the key is made here, under a PIN
    the holder sets; sent online, or as a file for the stick), install the county's grant, change the PIN."""
    node, error, done = _node(), None, None
    if request.method == "POST":
        try:
            done = _holder_acts(node, request.form)
        except (DomainError, ProvisioningError, SyncError) as exc:
            error = str(exc)
        if isinstance(done, Response):
            return done
    here = Seal.select().where(Seal.station == node.identity.station)
    held = [s for s in here if key_path(node.config.data_dir, s.seal_id).exists()]
    return render_template("seals_mine.html", held=held, error=error, done=done), 400 if error else 200


def _holder_acts(node, form) -> str | Response:
    """One of the holder's acts; what to say, or the request file to save."""
    action, seal_id = form.get("action", ""), form.get("seal", "").strip()
    if action == "file":
        return _download(seals.request_seal(node, seal_id, _new_pin(form)), f"印章申请-{seal_id}.request")
    if action == "online":
        seal = seals.request_online(node, seal_id, _new_pin(form))
    elif action == "install":
        upload = request.files.get("grant")
        seal = seals.install_seal(node, upload.read() if upload else b"")
    elif action == "pin":
        change_pin(node.config.data_dir, seal_id, form.get("old_pin", ""), _new_pin(form), node.now())
        return "印章口令已更改：以后盖章请用新口令"
    else:
        raise SealRefused("不认识的操作")
    return f"印章 {seal.seal_id}（{seal.owner} {seal.name}）已安装，有效期至 {seal.valid_to:%Y-%m-%d}"


def _new_pin(form) -> str:
    pin = form.get("pin", "")
    if pin != form.get("pin_again", ""):
        raise SealRefused("两次输入的印章口令不一致")
    return pin


def _download(data: bytes, name: str) -> Response:
    return send_file(io.BytesIO(data), mimetype="application/octet-stream", as_attachment=True, download_name=name)


@api.post("/request")
def request_seal():
    """A holder's sealed request, signed by its installation key: the answer is sealed back to it."""
    body = request.get_data(cache=False)
    if len(body) > MAX_REQUEST_BYTES:
        return {"error": "too_large", "message": "印章申请过大"}, 413
    return Response(seals.grant_seal(_node(), body), mimetype="application/octet-stream")
