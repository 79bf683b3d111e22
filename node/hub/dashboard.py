"""A county's or city's dashboard: the statistics summed for an area and filters, the deadlines that are
slipping, low ratings and the children's sync health, as tables a page shows and a CSV file carries.

The sums read `statistic` (kept as events are applied); the lists read a bounded number of rows by index.
A city receives its counties' events, so the same sums at the city are the roll-up."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import peewee as pw

from node.cases.conflicts import open_conflicts
from node.cases.deferrals import OWING
from node.cases.marks import RUNNING
from node.catalogue.model import Catalogue
from node.hub import followup, province
from node.hub.filters import HUBS, Filters, bundle_names, in_area, known_items, narrowed
from node.rules.tally import BUCKETS, COUNTERS, HISTOGRAM, LOW_STARS
from node.rules.workflow import STATE_NAMES
from provisioning.region import CHINA, area_prefix
from storage.models import (
    Application,
    Contact,
    DeadlineMark,
    EventRecord,
    Installation,
    Station,
    Statistic,
    unsettled,
)

OFFLINE_AFTER = dt.timedelta(hours=24)


LIST_LIMIT = 200  # rows of a list on the page and in its CSV: the oldest overdue first


HALL, STATIONS = "县级及以上大厅", "乡镇、村站点"


@dataclass(frozen=True)
class Table:
    """What a page shows as one table and exports as one CSV file."""

    name: str
    title: str
    headers: tuple[str, ...]
    rows: list[tuple]

    def value(self, label: str):
        """A two-column table's value by its label (the summary's figures)."""
        return next(row[1] for row in self.rows if row[0] == label)


@dataclass(frozen=True)
class Dashboard:
    as_of: dt.datetime  # Beijing time
    area_name: str
    filters: Filters
    problems: list[str]
    totals: dict[str, int]
    due_soon: int
    overdue: int
    quarantined: int
    conflicts: int  # steps two levels took at once, held back and not yet settled by a clerk
    offline: int
    owing: tuple[int, int] = (0, 0)  # 容缺 cases still owing a material now, and those of them past the last day
    tables: dict[str, Table] = field(default_factory=dict)
    follow_up: followup.FollowUp | None = None  # 差评整改 and 办件回访 (node.hub.followup)

    @property
    def on_the_spot_rate(self) -> str:
        return self.tables["summary"].value("即办率")

    @property
    def on_time_rate(self) -> str:
        return percent(self.totals["on_time"], self.totals["on_time"] + self.totals["late"])

    @property
    def average_handling(self) -> str:
        return average(self.totals["handling_days"], self.totals["decided"])

    @property
    def average_stars(self) -> str:
        return average(self.totals["stars"], self.totals["rated"])

    @property
    def deferral_supply_rate(self) -> str:
        """补齐率: of the cases accepted with 容缺 in the period, those that brought everything by the last day."""
        return percent(self.totals["deferral_supplied"], self.totals["deferred"])


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "—"


def average(total: int, count: int) -> str:
    return f"{total / count:.1f}" if count else "—"


def _statistics(area: str, filters: Filters):
    query = Statistic.select().where(in_area(Statistic.station, area, filters))
    return narrowed(query, filters, Statistic.item_code, Statistic.day)


def _sums(area: str, filters: Filters, *group: pw.Field) -> list[tuple]:
    """Rows of (group values…, every counter summed)."""
    sums = [pw.fn.COALESCE(pw.fn.SUM(getattr(Statistic, c)), 0) for c in COUNTERS]
    query = _statistics(area, filters).select(*group, *sums)
    if group:
        query = query.group_by(*group)
    return list(query.tuples())


def build(
    area: str,
    filters: Filters,
    problems: list[str],
    *,
    now: dt.datetime,
    own_station: str,
    catalogues: list[Catalogue],
    forwarding: bool = False,
) -> Dashboard:
    """Every figure and table of the dashboard, as of `now`; a city's narrowed to a county if the filters say.
    `forwarding`: the city forwards to the province (`province_url`), so its outbox is shown."""
    area = filters.county or area
    items, bundles = known_items(catalogues), bundle_names(catalogues)
    stations = {s.code: s for s in Station.select().where(in_area(Station.code, area, Filters()))}
    area_station = next((s for s in stations.values() if area_prefix(s.region) == area and s.level in HUBS), None)
    totals = dict(zip(COUNTERS, _sums(area, filters)[0], strict=True))
    marks = _marks(area, filters)
    owing = _owing(area, filters, now.astimezone(CHINA).date())
    contacts = _contacts(own_station, stations, now)
    offline = sum(1 for row in contacts.rows if row[-1] != "正常")
    per_station = _sums(area, filters, Statistic.station)
    counties = {s.region: s for s in stations.values() if s.level in HUBS}
    on_the_spot = _on_the_spot(area, filters)
    cross_region = _cross_region(area, filters)
    follow, follow_tables = followup.figures(area, filters, now.astimezone(CHINA).date(), stations, items)
    tables = [
        _summary(totals, marks, owing, on_the_spot, cross_region),
        *([_by_county(per_station, counties)] if len(area) < COUNTY_CODE else []),
        *([_province(now)] if forwarding and len(area) < COUNTY_CODE else []),
        _by_station(per_station, stations),
        _by_item(_sums(area, filters, Statistic.item_code), items),
        _by_bundle(_sums(area, filters, Statistic.bundle), bundles),
        _handling(totals),
        _channels(_sums(area, filters, Statistic.station), stations),
        _overdue(area, filters, stations, items),
        _low_ratings(area, filters, stations, items),
        *(Table(*table) for table in follow_tables),
        contacts,
    ]
    return Dashboard(
        as_of=now.astimezone(CHINA),
        area_name=area_station.name if area_station else area,
        filters=filters,
        problems=problems,
        totals=totals,
        due_soon=marks.get("due_soon", 0),
        overdue=marks.get("overdue", 0),
        quarantined=EventRecord.select().where(unsettled("quarantined")).count(),
        conflicts=len(open_conflicts(area)),
        offline=offline,
        owing=owing,
        tables={table.name: table for table in tables},
        follow_up=follow,
    )


ZERO = dict.fromkeys(COUNTERS, 0)


def _counted(row: tuple, offset: int) -> dict[str, int]:
    return dict(zip(COUNTERS, row[offset:], strict=True))


def _on_the_spot(area: str, filters: Filters) -> tuple[int, int]:
    """即办: (decided on the day they were filed, with no working day of handling; all decided), in the period
    by the day of decision. The statistics do not keep the filing day beside the decision's, so this reads
    the applications themselves, by the area's range of station codes."""
    query = Application.select(
        pw.fn.COUNT(Application.number),
        pw.fn.COALESCE(pw.fn.SUM(pw.Case(None, [((Application.decided_on == Application.filed_on), 1)], 0)), 0),
    ).where(Application.decided_on.is_null(False) & in_area(Application.station, area, filters))
    decided, same_day = narrowed(query, filters, Application.item_code, Application.decided_on).tuples()[0]
    return int(same_day), int(decided)


def _cross_region(area: str, filters: Filters) -> tuple[int, int]:
    """跨区域通办 filed in the period: (filed here for another county: 收件地; filed elsewhere, handled here:
    办理地). Each county counts its side; a city, whose counties both are, counts a case on both sides."""
    received = Application.select().where(
        Application.handler.is_null(False) & in_area(Application.station, area, filters)
    )
    handled = Application.select().where(Application.handler.startswith(area))
    return tuple(  # type: ignore[return-value]
        narrowed(query, filters, Application.item_code, Application.filed_on).count() for query in (received, handled)
    )


def _province(now: dt.datetime) -> Table:
    """The city's outbox to the province (`node.hub.province`): what waits, and how long the oldest has."""
    waiting = province.backlog(int(now.timestamp() * 1000))
    oldest = "—" if waiting.oldest_hours is None else waiting.oldest_hours
    first = f"{waiting.oldest_number}（{waiting.oldest_since:%Y-%m-%d %H:%M} 起）" if waiting.oldest_since else "—"
    rows = [("待报送省平台的办件", waiting.waiting), ("其中最早的已等待（小时）", oldest), ("最早未报送的办件", first)]
    return Table("province", "报送省平台", ("指标", "数值"), rows)


def _summary(
    totals: dict[str, int],
    marks: dict[str, int],
    owing: tuple[int, int],
    on_the_spot: tuple[int, int] = (0, 0),
    cross_region: tuple[int, int] = (0, 0),
) -> Table:
    rows = [
        ("申请件数", totals["filed"]),
        ("受理件数", totals["accepted"]),
        ("办结件数", totals["decided"]),
        ("即办件数（收件当日办结）", on_the_spot[0]),
        ("即办率", percent(*on_the_spot)),
        ("按时办结", totals["on_time"]),
        ("超期办结", totals["late"]),
        ("按时办结率", percent(totals["on_time"], totals["on_time"] + totals["late"])),
        ("平均办理时长（工作日）", average(totals["handling_days"], totals["decided"])),
        ("评价件数", totals["rated"]),
        ("平均星级", average(totals["stars"], totals["rated"])),
        ("差评件数", totals["low_rated"]),
        ("当前临期件数", marks.get("due_soon", 0)),
        ("当前超期件数", marks.get("overdue", 0)),
        ("容缺件数", totals["deferred"]),
        ("容缺按期补齐件数", totals["deferral_supplied"]),
        ("补齐率", percent(totals["deferral_supplied"], totals["deferred"])),
        ("容缺逾期终止件数", totals["deferral_lapsed"]),
        ("当前容缺待补件数", owing[0]),
        ("当前容缺逾期未补件数", owing[1]),
        ("通办收件件数（本地收件、外地办理）", cross_region[0]),
        ("通办办理件数（外地收件、本地办理）", cross_region[1]),
    ]
    return Table("summary", "总体情况", ("指标", "数值"), rows)


def _performance(counts: dict[str, int]) -> tuple:
    return (
        counts["filed"],
        counts["accepted"],
        counts["decided"],
        counts["on_time"],
        counts["late"],
        percent(counts["on_time"], counts["on_time"] + counts["late"]),
        average(counts["handling_days"], counts["decided"]),
        counts["rated"],
        average(counts["stars"], counts["rated"]),
    )


PERFORMANCE = ("申请", "受理", "办结", "按时", "超期", "按时办结率", "平均工作日", "评价", "平均星级")


COUNTY_CODE = 6  # digits of a county's division code: the first six of every station code inside it


def _by_county(rows: list[tuple], counties: dict[str, Station]) -> Table:
    """A city's counties, each summed over its stations; the page links each code to that county's board."""
    sums: dict[str, Counter] = {}
    for row in rows:
        sums.setdefault(row[0][:COUNTY_CODE], Counter()).update(_counted(row, 1))
    body = [
        (code, counties[code].name if code in counties else f"区划 {code}", *_performance({**ZERO, **counts}))
        for code, counts in sorted(sums.items())
    ]
    return Table("counties", "各县（区）", ("区划代码", "县（区）", *PERFORMANCE), body)


def _by_station(rows: list[tuple], stations: dict[str, Station]) -> Table:
    body = [(row[0], _station_name(stations, row[0]), *_performance(_counted(row, 1))) for row in sorted(rows)]
    return Table("stations", "各站点", ("站点编码", "站点", *PERFORMANCE), body)


def _by_item(rows: list[tuple], items: Mapping[str, tuple[str, str, str]]) -> Table:
    body = []
    for row in sorted(rows, key=lambda r: -r[1]):
        name, _, department = items.get(row[0], ("（清单中无此事项）", "", ""))
        body.append((row[0], name, department, *_performance(_counted(row, 1))))
    return Table("items", "各事项", ("事项编码", "事项", "部门", *PERFORMANCE), body)


def _by_bundle(rows: list[tuple], bundles: Mapping[str, str]) -> Table:
    body = [
        (row[0], bundles.get(row[0], row[0]), _counted(row, 1)["filed"])
        for row in sorted(rows, key=lambda r: -r[1])
        if row[0]
    ]
    return Table("bundles", "一件事", ("编码", "一件事", "申请件数"), body)


def _handling(totals: dict[str, int]) -> Table:
    labels, low = [], 0
    for _, bound in BUCKETS:
        labels.append(f"{low}–{bound} 个工作日")
        low = bound + 1
    labels.append(f"{BUCKETS[-1][1]} 个工作日以上")
    rows = [(label, totals[name]) for label, name in zip(labels, HISTOGRAM, strict=True)]
    return Table("handling", "办理时长分布", ("办理时长", "办结件数"), rows)


def _channels(rows: list[tuple], stations: dict[str, Station]) -> Table:
    """Filed at a township or village station, or at a hub's own hall."""
    filed = {HALL: 0, STATIONS: 0}
    for row in rows:
        station = stations.get(row[0])
        filed[HALL if station is not None and station.level in HUBS else STATIONS] += _counted(row, 1)["filed"]
    whole = sum(filed.values())
    return Table(
        "channels", "申请渠道", ("渠道", "申请件数", "占比"), [(k, v, percent(v, whole)) for k, v in filed.items()]
    )


def _marks(area: str, filters: Filters) -> dict[str, int]:
    query = (
        DeadlineMark.select(DeadlineMark.status, pw.fn.COUNT(DeadlineMark.number))
        .join(Application, on=(Application.number == DeadlineMark.number))
        .where(Application.state.in_(RUNNING) & in_area(Application.station, area, filters))
        .group_by(DeadlineMark.status)
    )
    query = narrowed(query, filters, Application.item_code)
    return dict(query.tuples())


def _owing(area: str, filters: Filters, today: dt.date) -> tuple[int, int]:
    """容缺 cases that still owe a material now, and those past their last day: read from the rows, as marks are."""
    late = pw.fn.SUM(pw.Case(None, [(Application.deferral_due < today, 1)], 0))
    query = Application.select(pw.fn.COUNT(Application.number), late).where(
        (Application.deferral_owed > 0) & Application.state.in_(OWING) & in_area(Application.station, area, filters)
    )
    owed, overdue = narrowed(query, filters, Application.item_code).scalar(as_tuple=True)
    return owed or 0, overdue or 0


def _overdue(area: str, filters: Filters, stations: dict[str, Station], items) -> Table:
    """The running applications past their due date, oldest first, and who must act: the level that
    accepted them (the origin of the acceptance event)."""
    query = (
        Application.select(Application, DeadlineMark.since)
        .join(DeadlineMark, on=(Application.number == DeadlineMark.number))
        .where(
            (DeadlineMark.status == "overdue")
            & Application.state.in_(RUNNING)
            & in_area(Application.station, area, filters)
        )
        .order_by(Application.due, Application.number)
        .limit(LIST_LIMIT)
    )
    query = narrowed(query, filters, Application.item_code)
    rows = list(query)
    holders = _holders([row.number for row in rows])
    body = [
        (
            row.number,
            _station_name(stations, row.station),
            items.get(row.item_code, (row.item_code,))[0],
            STATE_NAMES[row.state],
            row.due.isoformat(),
            _station_name(stations, holders.get(row.number, "")),
        )
        for row in rows
    ]
    return Table("overdue", "超期办件", ("办件编号", "申请站点", "事项", "状态", "应办结日", "承办单位"), body)


def _holders(numbers: list[str]) -> dict[str, str]:
    """Application number -> the station whose installation accepted it: two indexed queries for a list."""
    if not numbers:
        return {}
    accepted = (
        EventRecord.select(EventRecord.entity, EventRecord.origin)
        .where(
            EventRecord.entity.in_([f"application:{n}" for n in numbers])
            & (EventRecord.type == "application.accepted")
            & (EventRecord.status == "applied")
        )
        .tuples()
    )
    origins = {entity.removeprefix("application:"): origin for entity, origin in accepted}
    station_of = dict(
        Installation.select(Installation.id, Installation.station)
        .where(Installation.id.in_(list(set(origins.values()))))
        .tuples()
    )
    return {number: station_of.get(origin, "") for number, origin in origins.items()}


def _station_name(stations: dict[str, Station], code: str) -> str:
    if not code:
        return "—"
    station = stations.get(code) or Station.get_or_none(Station.code == code)
    return station.name if station else code


def _low_ratings(area: str, filters: Filters, stations: dict[str, Station], items) -> Table:
    query = (
        Application.select()
        .where((Application.rating <= LOW_STARS) & in_area(Application.station, area, filters))
        .order_by(Application.rated_on.desc(), Application.number)
        .limit(LIST_LIMIT)
    )
    query = narrowed(query, filters, Application.item_code, Application.rated_on)
    body = [
        (
            row.number,
            _station_name(stations, row.station),
            items.get(row.item_code, (row.item_code,))[0],
            row.rating,
            row.rating_comment or "",
            row.rated_on.isoformat() if row.rated_on else "",
        )
        for row in query
    ]
    return Table("ratings", "差评（两星及以下）", ("办件编号", "站点", "事项", "星级", "评价内容", "评价日期"), body)


def _contacts(own_station: str, stations: dict[str, Station], now: dt.datetime) -> Table:
    """The stations that sync with this hub directly, and when each last reached it."""
    children = [s for s in stations.values() if s.parent == own_station]
    seen = dict(
        Contact.select(Contact.station, Contact.at).where(Contact.station.in_([s.code for s in children])).tuples()
    )
    naive_now = now.astimezone(dt.UTC).replace(tzinfo=None)
    body = []
    for station in sorted(children, key=lambda s: s.code):
        at = seen.get(station.code)
        state = "从未联系" if at is None else "超过 24 小时未联系" if naive_now - at > OFFLINE_AFTER else "正常"
        when = at.replace(tzinfo=dt.UTC).astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if at else "—"
        body.append((station.code, station.name, when, state))
    return Table("contacts", "下级节点同步状况", ("站点编码", "站点", "最近联系（北京时间）", "状态"), body)
