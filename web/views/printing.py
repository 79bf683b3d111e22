"""Printed documents of an application as PDF, for the workbench and the JSON API alike."""

import io

from flask import Blueprint, abort, current_app, request, send_file

from node.printing.dossier import paper_for
from node.printing.papers import KINDS, filename
from node.printing.render import render

from ..auth import requires, visible_application

bp = Blueprint("printing", __name__)


@bp.get("/work/a/<number>/print/<doc>.pdf")
@bp.get("/api/v1/applications/<number>/documents/<doc>.pdf", endpoint="api_document")
@requires("agent", "clerk", "admin")
def document(number: str, doc: str):
    """`?size=A4|A5`; shown in the browser (inline) so the agent prints it from there."""
    if doc not in KINDS:
        abort(404)
    visible_application(number)
    node = current_app.extensions["onetrip"]
    paper = paper_for(node, number, node.reference.catalogue(), doc)
    pdf = render(doc, paper, request.args.get("size", "A4"))
    return send_file(io.BytesIO(pdf), mimetype="application/pdf", download_name=filename(doc, paper))
