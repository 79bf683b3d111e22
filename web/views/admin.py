"""The admin pages: the fleet, registering stations, codes and QR, revocation, accounts, the audit trail."""

import datetime as dt
import io

import segno
from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, send_file, url_for

from node.catalogue.published import HOLIDAYS, PublicationRefused, publish
from node.fleet import admin as fleet
from node.fleet import overview
from node.hub.dashboard import Table
from node.hub.export import csv_bytes
from node.link import health
from node.rules.holidays import BadHolidayTable, holiday_summary, with_year, year_from_lines
from node.rules.identifiers import normalise_phone
from provisioning.audit import ACTIONS, ACTORS, OUTCOMES, trail
from provisioning.audit import audit as record_audit
from provisioning.errors import ProvisioningError
from provisioning.operators import ROLES, county_disable, create_operator, set_disabled, set_phone
from provisioning.region import CHINA, LEVEL_NAMES
from storage.models import AuditEntry, Operator, Station
from sync.errors import SyncError

from ..auth import current_operator, requires
from ..beijing import beijing

bp = Blueprint("admin", __name__, url_prefix="/admin")
PAGE = 50
MAX_REQUEST_BYTES = 64 * 1024


def _node():
    return current_app.extensions["onetrip"]


def _page() -> int:
    """The page asked for, bounded: a page number beyond 64 bits would overflow the query's offset."""
    return min(max(1, request.args.get("page", 1, type=int)), 10**6)


@bp.get("/")
@requires("admin")
def fleet_page():
    return _fleet_page()


def _fleet_page(accept_error: str | None = None, status: int = 200):
    rows, total = overview.overview(_node(), page=_page(), per_page=PAGE)
    page = render_template(
        "admin/fleet.html",
        rows=rows,
        total=total,
        page=_page(),
        per_page=PAGE,
        level_names=LEVEL_NAMES,
        is_hub=overview.is_hub(_node()),
        clock_warning=health.clock_warning(_node().config.max_clock_drift_s),
        version_shares=overview.version_shares(_node()),
        max_clock_drift_min=_node().config.max_clock_drift_s // 60,
        accept_error=accept_error,
    )
    return page, status


@bp.route("/register", methods=["GET", "POST"])
@requires("admin")
def register():
    node, done, error = _node(), None, None
    if request.method == "POST":
        form = request.form
        try:
            done = fleet.register(
                node,
                name=form.get("name", ""),
                level=form.get("level", ""),
                region=form.get("region", "").strip(),
                parent=form.get("parent") or None,
                parent_url=form.get("parent_url") or None,
                hub_url=request.host_url.rstrip("/"),
                actor=current_operator().username,
            )
        except ProvisioningError as exc:
            error = str(exc)
    qr = segno.make(done.qr_text, error="m").svg_inline(scale=4) if done else None
    station = Station.get_or_none(Station.code == done.station) if done else None
    return render_template(
        "admin/register.html",
        done=done,
        station=station,
        qr=qr,
        error=error,
        level_names=LEVEL_NAMES,
        form=request.form,
    )


@bp.post("/stations/<station>/code")
@requires("admin")
def new_code(station: str):
    issued = fleet.new_code(_node(), station, request.host_url.rstrip("/"), actor=current_operator().username)
    return _show_code(issued.station, issued.code, issued.qr_text, "新的注册码（旧注册码已作废）")


@bp.post("/stations/<station>/replace")
@requires("admin")
def replace(station: str):
    issued = fleet.replace(
        _node(),
        station,
        request.form.get("reason") or "更换电脑",
        request.host_url.rstrip("/"),
        actor=current_operator().username,
    )
    seals = f"；旧电脑的印章已吊销并重新下单（{'、'.join(issued.seals)}），新电脑注册后申领" if issued.seals else ""
    return _show_code(issued.station, issued.code, issued.qr_text, f"旧安装已吊销{seals}；新电脑的注册码")


def _show_code(station: str, code: str, qr: str, title: str):
    svg = segno.make(qr, error="m").svg_inline(scale=4)
    row = Station.get(Station.code == station)
    return render_template(
        "admin/code.html", station=row, code=code, qr_text=qr, qr=svg, title=title, level_names=LEVEL_NAMES
    )


@bp.post("/bundle")
@requires("admin")
def bundle():
    """The enrolment bundle for a code, to carry on a USB stick to a station with no network."""
    code = request.form.get("code", "").strip()
    try:
        data = fleet.bundle_for(_node(), code, request.host_url.rstrip("/"))
    except ProvisioningError as exc:
        abort(400, str(exc))
    name = f"注册包-{code}.bundle"
    return send_file(io.BytesIO(data), mimetype="application/octet-stream", as_attachment=True, download_name=name)


@bp.post("/enrol/accept")
@requires("admin")
def accept_enrolment():
    """A station's enrolment request carried on a USB stick (its setup page wrote it): answered with the grant
    file to carry back, as `onetrip accept` does."""
    upload = request.files.get("request")
    try:
        data = fleet.grant(_node(), upload.read(MAX_REQUEST_BYTES + 1) if upload else b"")
    except ProvisioningError as exc:
        return _fleet_page(accept_error=f"没有受理：{exc}", status=400)
    except SyncError:  # the envelope does not open: not a request sealed to this hub, or altered
        return _fleet_page(accept_error="没有受理：这个文件不是发给本枢纽的注册请求，或已被改动", status=400)
    name = "证书回执.grant"
    return send_file(io.BytesIO(data), mimetype="application/octet-stream", as_attachment=True, download_name=name)


@bp.post("/revoke")
@requires("admin")
def revoke():
    fleet.revoke(
        _node(),
        request.form.get("installation", ""),
        request.form.get("reason") or "管理员吊销",
        actor=current_operator().username,
    )
    return redirect(url_for("admin.fleet_page"))


@bp.get("/audit")
@requires("admin")
def audit():
    filters, problems = _audit_filters()
    query = trail(**filters)
    entries = list(query.paginate(_page(), PAGE))
    actors = [a for (a,) in AuditEntry.select(AuditEntry.actor).distinct().order_by(AuditEntry.actor).tuples()]
    return render_template(
        "admin/audit.html",
        entries=entries,
        total=query.count(),
        page=_page(),
        per_page=PAGE,
        filters=request.args,
        problems=problems,
        actors=actors,
        actions=ACTIONS,
        actor_names=_actor_names(),
        outcomes=OUTCOMES,
    )


@bp.get("/audit.csv")
@requires("admin")
def audit_csv():
    """The entries the page's filters select, all of them, for an inspection or a spreadsheet."""
    filters, _ = _audit_filters()
    names = _actor_names()
    rows = [
        (
            beijing(e.at, seconds=True),
            names.get(e.actor, e.actor),
            ACTIONS.get(e.action, e.action),
            e.subject or "",
            OUTCOMES.get(e.outcome, e.outcome),
            e.detail or "",
        )
        for e in trail(**filters).iterator()
    ]
    table = Table("audit", "操作记录", ("时间（北京时间）", "操作人", "操作", "对象", "结果", "说明"), rows)
    name = f"audit-{dt.datetime.now(CHINA):%Y%m%d-%H%M}.csv"
    return Response(
        csv_bytes(table), mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


def _actor_names() -> dict[str, str]:
    """Who acted, as a person reads it: the account's real name with its login, or what made a request."""
    return {
        **ACTORS,
        **{o.username: f"{o.name}（{o.username}）" for o in Operator.select(Operator.username, Operator.name)},
    }


def _audit_filters() -> tuple[dict, list[str]]:
    """The audit page's filters from its query; a date that is not one is named and left out."""
    args, problems = request.args, []
    filters = {key: args.get(key, "").strip() for key in ("actor", "action", "subject")}
    for key, words in (("since", "起始日期"), ("until", "截止日期")):
        text = args.get(key, "").strip()
        try:
            filters[key] = dt.date.fromisoformat(text) if text else None
        except ValueError:
            filters[key] = None
            problems.append(f"{words}“{text}”不是有效日期，应为 2026-12-01 这样的格式")
    return filters, problems


@bp.route("/operators", methods=["GET", "POST"])
@requires("admin")
def operators():
    node, me, error = _node(), current_operator(), None
    if request.method == "POST":
        form = request.form
        try:
            if "phone_for" in form:  # the row's own small form: a reminder mobile set or cleared
                phone = normalise_phone(form.get("phone", ""))
                set_phone(node.events, me.station, form["phone_for"], phone, by=me.username)
                return redirect(url_for("admin.operators"))
            create_operator(
                node.events,
                me.station,
                username=form.get("username", "").strip(),
                name=form.get("name", ""),
                role=form.get("role", ""),
                password=form.get("password", ""),
                staff_no=form.get("staff_no", ""),
                phone=normalise_phone(form.get("phone", "")),
                must_change=True,
                actor=me.username,
            )
            return redirect(url_for("admin.operators"))
        except ProvisioningError as exc:
            error = str(exc)
    hub = overview.is_hub(node)
    query = Operator.select().order_by(Operator.station, Operator.username)
    if not hub:
        query = query.where(Operator.station == me.station)
    return render_template(
        "admin/operators.html",
        operators=list(query.paginate(_page(), PAGE)),
        total=query.count(),
        page=_page(),
        per_page=PAGE,
        roles=ROLES,
        error=error,
        hub=hub,
        me=me,
        form=request.form,
    )


@bp.post("/operators/<username>/disable")
@requires("admin")
def disable(username: str):
    node, me = _node(), current_operator()
    target = Operator.get_or_none(Operator.username == username)
    if target is not None and target.station != me.station and overview.is_hub(node):
        county_disable(node.events, username, by=me.username, reason=request.form.get("reason") or "县级停用")
    else:
        set_disabled(node.events, me.station, username, True, by=me.username)
    return redirect(url_for("admin.operators"))


@bp.post("/operators/<username>/enable")
@requires("admin")
def enable(username: str):
    me = current_operator()
    set_disabled(_node().events, me.station, username, False, by=me.username)
    return redirect(url_for("admin.operators"))


@bp.route("/holidays", methods=["GET", "POST"])
@requires("admin")
def holidays():
    """节假日表: the years a hub's table covers, and a year typed in (days off, make-up workdays) checked and,
    on the admin's word, published as a new version; refusals on the same page, nothing published."""
    node = _node()
    if not overview.is_hub(node):
        abort(403, "节假日表由县级、市级枢纽发布")
    table, today = node.reference.holidays(), node.now().astimezone(CHINA).date()
    form, problems, checked, published = request.form, [], None, None
    year = request.values.get("year", type=int) or today.year + 1
    if request.method == "POST":
        if not today.year - 1 <= year <= today.year + 2:
            problems.append(f"只能编辑 {today.year - 1} 至 {today.year + 2} 年的节假日安排")
        else:
            off, work, problems = year_from_lines(year, form.get("days_off", ""), form.get("workdays", ""))
            try:
                checked = with_year(table, year, off, work) if not problems else None
            except BadHolidayTable as exc:
                problems = exc.problems
            if checked is not None and form.get("action") == "publish":
                try:
                    published = publish(node.events, node.identity, HOLIDAYS, checked)
                except PublicationRefused as exc:
                    problems.append(str(exc))
                else:
                    record_audit(current_operator().username, "publish_holidays", str(year), "ok", f"第 {published} 版")
                    table = node.reference.holidays()
    return render_template(
        "admin/holidays.html",
        table=table,
        years=sorted(table.years, reverse=True)[:4],
        summary=lambda y: holiday_summary(table, y),
        year=year,
        form=form,
        problems=problems,
        checked=checked,
        published=published,
    )
