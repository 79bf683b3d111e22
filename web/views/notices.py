"""办件通知 at the filing station: the notices whose SMS its hub has not been heard to send in time, printed on
one sheet and handed to the residents; printing them tells the county not to send them afterwards."""

import io

from flask import Blueprint, current_app, render_template, request, send_file

from node.cases.notices import printable, record_printed
from node.printing.papers import Slip
from node.printing.render import render_slips
from provisioning.region import CHINA

from ..auth import current_operator, requires

bp = Blueprint("notices", __name__, url_prefix="/work/notices")


def _node():
    return current_app.extensions["onetrip"]


def _now_ms(node) -> int:
    return int(node.now().timestamp() * 1000)


@bp.get("/")
@requires("agent", "clerk", "admin")
def waiting():
    node = _node()
    return render_template("work/notices.html", notices=printable(node, _now_ms(node)))


@bp.post("/print.pdf")
@requires("agent", "clerk", "admin")
def print_slips():
    """The ticked notices as one PDF, shown in the browser to print; each is recorded as handed over."""
    node = _node()
    wanted = set(request.form.getlist("notice"))
    chosen = [n for n in printable(node, _now_ms(node)) if n.notice_id in wanted]
    slips = tuple(Slip(n.number, n.name, n.address, n.kind, n.text) for n in chosen)
    pdf = render_slips(node.identity.name, slips, node.now().astimezone(CHINA))  # refuses an empty choice
    record_printed(node, chosen, current_operator().username)
    name = f"办件进度通知-{node.now().astimezone(CHINA):%Y%m%d-%H%M}.pdf"
    return send_file(io.BytesIO(pdf), mimetype="application/pdf", download_name=name)
