"""The hub's dashboard for its admins and clerks, and each of its tables as a CSV file."""

from flask import Blueprint, Response, abort, current_app, render_template, request

from node.hub import dashboard
from node.hub.export import coverage, csv_bytes
from node.hub.filters import area_for, departments, known_items, read_filters
from node.link import forks, health
from storage.models import Station

from .. import charts
from ..auth import current_operator, requires

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")


def _build() -> dashboard.Dashboard:
    """The figures for the person logged in: their area only; filters outside it are left out."""
    node = current_app.extensions["onetrip"]
    area = area_for(node.identity.level, node.identity.region, current_operator())
    if area is None:
        abort(403, "统计看板只对县级、市级枢纽本级的管理员和窗口人员开放")
    catalogues = node.reference.catalogues()
    filters, problems = read_filters(request.args, area, known_items(catalogues))
    return dashboard.build(
        area,
        filters,
        problems,
        now=node.now(),
        own_station=node.identity.station,
        catalogues=catalogues,
        forwarding=bool(node.config.province_url),
    )


@bp.get("/")
@requires("admin", "clerk")
def show():
    board = _build()
    tables = board.tables
    items = known_items(current_app.extensions["onetrip"].reference.catalogues())
    return render_template(
        "dashboard.html",
        board=board,
        charts={
            "handling": charts.handling(tables["handling"]),
            "channels": charts.channels(tables["channels"]),
            "volume": charts.items(tables["items"]),
        },
        items=items,
        departments=departments(items),
        fork_warning=forks.warning(),
        clock_warning=health.clock_warning(current_app.extensions["onetrip"].config.max_clock_drift_s),
    )


@bp.get("/<name>.csv")
@requires("admin", "clerk")
def export(name: str):
    board = _build()
    table = board.tables.get(name)
    if table is None:
        abort(404, f"没有名为 {name} 的统计表")
    filename = f"{name}-{board.as_of:%Y%m%d-%H%M}.csv"
    items = known_items(current_app.extensions["onetrip"].reference.catalogues())
    names = {code: item[0] for code, item in items.items()} | dict(departments(items))
    if station := Station.get_or_none(Station.code == board.filters.station):
        names[station.code] = station.name
    return Response(
        csv_bytes(table, coverage(board, names)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
