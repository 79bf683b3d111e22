"""办件回访 at a county hub: once a month is over (and its late-syncing stations have had some days to bring
their cases up) the county draws that month's sample of closed cases (node.rules.callbacks) and records it
as its own `callback.sampled`; each call's outcome is a `callback.recorded`. Both are events of the county's
stream, so the call list and its results come back with a rebuild and reach the city's dashboard."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass

from node.cases.events import beijing_date
from node.context import Context
from node.hub.filters import Filters, in_area
from node.hub.rectifications import FollowUpRefused
from node.rules.callbacks import (
    MINIMUM,
    RECORDED,
    SAMPLED,
    SHARE_PERCENT,
    ClosedCase,
    describe,
    draw_sample,
    month_days,
    outcome_problems,
    previous_month,
)
from node.rules.workflow import DECIDED
from provisioning.region import area_prefix
from storage.models import Application, Callback, CallbackSample, Certificate, EventRecord, Installation, Station
from sync.event import Event
from sync.log import APPLIED
from sync.projection import RuleViolation

DRAW_ON_DAY = 6  # of the next month: a station offline for the month's last days has brought its cases up
CHUNK = 500  # numbers per query when asking who decided


def entity(county: str, month: str) -> str:
    return f"callback:{county}:{month}"


def closed_cases(area: str, month: str) -> list[tuple[ClosedCase, str, dt.date]]:
    """The area's cases decided in the month, each with its item and decision day."""
    first, last = month_days(month)
    rows = list(
        Application.select(Application.number, Application.station, Application.item_code, Application.decided_on)
        .where(
            Application.state.in_(DECIDED)
            & (Application.decided_on >= first)
            & (Application.decided_on <= last)
            & in_area(Application.station, area, Filters())
        )
        .tuples()
    )
    windows = deciders([number for number, *_ in rows])
    return [(ClosedCase(windows.get(n, s), s, n), item, day) for n, s, item, day in rows]


def deciders(numbers: list[str]) -> dict[str, str]:
    """Application number -> the station whose installation signed its decision (the window that decided)."""
    origins: dict[str, str] = {}
    for start in range(0, len(numbers), CHUNK):
        entities = [f"application:{n}" for n in numbers[start : start + CHUNK]]
        found = EventRecord.select(EventRecord.entity, EventRecord.origin).where(
            EventRecord.entity.in_(entities)
            & (EventRecord.type == "application.decided")
            & (EventRecord.status == APPLIED)
        )
        origins |= {name.removeprefix("application:"): origin for name, origin in found.tuples()}
    signers = sorted(set(origins.values()))
    # The station an installation's certificate names: the one it serves since enrolment (the Installation
    # row keeps the provisional code it declared before); the declared one where no certificate is held.
    station_of = dict(
        Installation.select(Installation.id, Installation.station).where(Installation.id.in_(signers)).tuples()
    )
    station_of |= dict(
        Certificate.select(Certificate.installation, Certificate.station)
        .where(Certificate.installation.in_(signers) & (Certificate.use == "signing"))
        .tuples()
    )
    return {number: station_of.get(origin, "") for number, origin in origins.items() if origin in station_of}


def draw_month(node: Context, month: str, today: dt.date) -> int:
    """Draw the month's sample once, as the county's event; how many cases it holds (the held sample's, if
    it was drawn before: drawing again changes nothing). A month not yet over is refused; a month with no
    closed case records nothing."""
    county = node.identity.station
    if drawn := CallbackSample.get_or_none((CallbackSample.county == county) & (CallbackSample.month == month)):
        return Callback.select().where((Callback.county == county) & (Callback.month == drawn.month)).count()
    try:
        _, last = month_days(month)
    except ValueError as exc:
        raise FollowUpRefused([str(exc)]) from exc
    if last >= today:
        raise FollowUpRefused([f"{month} 尚未结束，月份结束后才能抽取回访样本"])
    cases = closed_cases(area_prefix(node.identity.region), month)
    if not cases:
        return 0  # nothing closed: nothing to record (a county just set up, a test's hub), asked again later
    facts = {case.number: (item, day) for case, item, day in cases}
    sample = draw_sample((case for case, _, _ in cases), county, month, SHARE_PERCENT, MINIMUM)
    payload = {
        "month": month,
        "share_percent": SHARE_PERCENT,
        "minimum": MINIMUM,
        "closed": len(cases),
        "drawn_on": today.isoformat(),
        "cases": [
            {
                "number": c.number,
                "station": c.station,
                "window": c.window,
                "item_code": facts[c.number][0],
                "decided_on": facts[c.number][1].isoformat() if facts[c.number][1] else None,
            }
            for c in sample
        ],
    }
    with node.events.transaction():
        node.events.append(SAMPLED, entity(county, month), payload, stream=county)
    return len(sample)


def draw_due(node: Context, today: dt.date) -> int | None:
    """The scheduler's monthly draw: the last month's sample, once its stations have had time to sync."""
    month = previous_month(today)
    if today.day < DRAW_ON_DAY or is_drawn(node.identity.station, month):
        return None
    return draw_month(node, month, today)


def is_drawn(county: str, month: str) -> bool:
    return CallbackSample.get_or_none((CallbackSample.county == county) & (CallbackSample.month == month)) is not None


def record_call(
    node: Context,
    month: str,
    number: str,
    reached: object,
    satisfied: object,
    problems: list[str],
    comment: str,
    signer: dict,
) -> None:
    """Record one call of the month's list; refused in Chinese, nothing written, if it does not read."""
    county = node.identity.station
    row = Callback.get_or_none((Callback.month == month) & (Callback.number == number) & (Callback.county == county))
    if row is None:
        raise FollowUpRefused([f"{month} 的回访名单中没有办件 {number}"])
    if row.reached:
        raise FollowUpRefused(["此办件已回访并记录结果"])
    if found := outcome_problems(reached, satisfied, problems, comment):
        raise FollowUpRefused(found)
    payload = {
        "month": month,
        "number": number,
        "reached": reached,
        "satisfied": satisfied if reached else None,
        "problems": list(problems),
        "comment": comment.strip(),
        **signer,
    }
    with node.events.transaction():
        node.events.append(RECORDED, entity(county, month), payload, stream=county)


@dataclass(frozen=True)
class Month:
    month: str
    closed: int
    sampled: int
    reached: int
    drawn_on: dt.date


@dataclass(frozen=True)
class CallLine:
    """One case on a month's call list, as the list shows it."""

    month: str
    number: str
    station: str  # names
    window: str
    item: str
    decided_on: dt.date | None
    outcome: str
    reached: bool
    tries: int
    comment: str


def months(county: str) -> list[Month]:
    """The county's drawn months, the newest first, with how far their calls have got."""
    found = []
    for sample in CallbackSample.select().where(CallbackSample.county == county).order_by(CallbackSample.month.desc()):
        rows = Callback.select().where((Callback.county == county) & (Callback.month == sample.month))
        reached = rows.where(Callback.reached).count()
        found.append(Month(sample.month, sample.closed, rows.count(), reached, sample.drawn_on))
    return found


def call_list(county: str, month: str, items: Mapping[str, tuple[str, str, str]]) -> list[CallLine]:
    rows = list(
        Callback.select()
        .where((Callback.county == county) & (Callback.month == month))
        .order_by(Callback.window, Callback.station, Callback.number)
    )
    return [_line(row, items, _names(rows)) for row in rows]


def call_of(county: str, month: str, number: str, items: Mapping[str, tuple[str, str, str]]) -> CallLine | None:
    row = Callback.get_or_none((Callback.county == county) & (Callback.month == month) & (Callback.number == number))
    return None if row is None else _line(row, items, _names([row]))


def _names(rows: list[Callback]) -> dict[str, str]:
    codes = {r.station for r in rows} | {r.window for r in rows}
    return dict(Station.select(Station.code, Station.name).where(Station.code.in_(list(codes))).tuples())


def _line(row: Callback, items: Mapping[str, tuple[str, str, str]], names: dict[str, str]) -> CallLine:
    return CallLine(
        month=row.month,
        number=row.number,
        station=names.get(row.station, row.station),
        window=names.get(row.window, row.window or "—"),
        item=items.get(row.item_code, (row.item_code,))[0],
        decided_on=row.decided_on,
        outcome=describe(row.reached, row.satisfied, json.loads(row.problems), row.tries),
        reached=row.reached,
        tries=row.tries,
        comment=row.comment or "",
    )


class CallbackProjection:
    """The month's sample and its calls from the county's events: one sample per county and month, of cases
    inside the county's division only; a call only on a case of that county's list, none after one reached."""

    event_types = frozenset({SAMPLED, RECORDED})

    def apply(self, event: Event) -> None:
        payload, county = event.payload, event.stream
        month = payload.get("month")
        if not isinstance(month, str) or event.entity != entity(county, month):
            raise RuleViolation("回访记录的月份与其所在的县级中心不符")
        if event.type == SAMPLED:
            self._sample(event, county, month)
            return
        row = Callback.get_or_none(
            (Callback.month == month) & (Callback.number == payload.get("number")) & (Callback.county == county)
        )
        if row is None:
            raise RuleViolation(f"{month} 的回访名单中没有办件 {payload.get('number')}")
        if row.reached:
            raise RuleViolation("此办件已回访并记录结果")
        problems, comment = payload.get("problems") or [], payload.get("comment", "")
        if found := outcome_problems(payload.get("reached"), payload.get("satisfied"), problems, comment):
            raise RuleViolation("；".join(found))
        changes = {"tries": row.tries + 1, "called_on": beijing_date(event.hlc), "comment": comment}
        if payload["reached"]:
            changes |= {"reached": True, "satisfied": payload["satisfied"], "problems": json.dumps(problems)}
        Callback.update(**changes).where((Callback.month == month) & (Callback.number == row.number)).execute()

    def _sample(self, event: Event, county: str, month: str) -> None:
        payload, writer = event.payload, county.partition("-")[0]
        if CallbackSample.get_or_none((CallbackSample.county == county) & (CallbackSample.month == month)):
            raise RuleViolation(f"{month} 的回访样本已经抽取，不再重抽")
        cases = payload.get("cases")
        if not writer.isdigit() or not isinstance(cases, list):
            raise RuleViolation("回访样本记录不完整")
        if any(not isinstance(c, dict) or not str(c.get("station", "")).startswith(writer) for c in cases):
            raise RuleViolation("回访样本只能包括本县（区）的办件")
        if len({str(c.get("number")) for c in cases}) != len(cases):
            raise RuleViolation("回访样本中有重复的办件")
        try:
            CallbackSample.create(
                county=county,
                month=month,
                share_percent=int(payload["share_percent"]),
                minimum=int(payload["minimum"]),
                closed=int(payload["closed"]),
                drawn_on=dt.date.fromisoformat(payload["drawn_on"]),
            )
            for case in cases:
                decided = case.get("decided_on")
                Callback.create(
                    month=month,
                    number=str(case["number"])[:64],
                    county=county,
                    station=case["station"][:64],
                    window=str(case.get("window") or "")[:64],
                    item_code=str(case.get("item_code") or "")[:32],
                    decided_on=dt.date.fromisoformat(decided) if decided else None,
                )
        except (KeyError, TypeError, ValueError) as exc:
            raise RuleViolation(f"回访样本记录不完整：{exc}") from exc

    def reset(self, entity_name: str | None) -> None:
        samples, calls = CallbackSample.delete(), Callback.delete()
        if entity_name is not None:
            county, _, month = entity_name.removeprefix("callback:").rpartition(":")
            samples = samples.where((CallbackSample.county == county) & (CallbackSample.month == month))
            calls = calls.where((Callback.county == county) & (Callback.month == month))
        samples.execute()
        calls.execute()
