"""差评整改 at a county hub: every 差评 of its area opens one case (the county's `rectification.opened`, in its
own stream), assigned to the item's department and due in working days; clerks record 核实, 整改, 报告 and
回访, each an event, and the case closes only with the 回访 (node.rules.rectification).

Opening is a scheduled job that asks which low-rated applications have no case yet: the rows are the
projection of the county's own events, so a rebuild brings the cases back and the job opens nothing twice.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import peewee as pw

from node.cases.events import beijing_date
from node.catalogue.model import Catalogue
from node.context import Context
from node.errors import DomainError
from node.hub.filters import Filters, in_area, known_items
from node.rules import ratings
from node.rules.deadlines import add_working_days
from node.rules.holidays import HolidayTable
from node.rules.rectification import (
    CLOSED,
    DEADLINE_DAYS,
    FINDINGS,
    OPENED,
    REVISITED,
    STATE_NAMES,
    STEP_NAMES,
    STEP_OF_STATE,
    STEPS,
    VERIFIED,
    department_of,
    is_overdue,
    next_state,
    opens_case,
    step_problems,
)
from node.rules.tally import LOW_STARS
from provisioning.region import CHINA, area_prefix
from storage.models import Application, EventRecord, Rectification, Station
from sync.event import Event, parse_event
from sync.log import APPLIED
from sync.order import causal_order
from sync.projection import RuleViolation

OPEN_LIMIT = 200  # cases opened per run: a county catching up on a backlog does it over a few minutes


class FollowUpRefused(DomainError):
    """A step of 差评整改 or 办件回访 that cannot be recorded as given; `problems` says why, in Chinese."""

    code = "followup_refused"

    def __init__(self, problems: list[str]):
        super().__init__("；".join(problems))
        self.problems = problems


def entity(number: str) -> str:
    return f"rectification:{number}"


def open_rectifications(
    node: Context, today: dt.date, holidays: HolidayTable, catalogues: list[Catalogue], limit: int = OPEN_LIMIT
) -> int:
    """Open a case for every 差评 of this county's area that has none; how many were opened."""
    area = area_prefix(node.identity.region)
    waiting = (
        Application.select()
        .join(Rectification, pw.JOIN.LEFT_OUTER, on=(Rectification.number == Application.number))
        .where(
            (Application.rating <= LOW_STARS)
            & Rectification.number.is_null()
            & in_area(Application.station, area, Filters())
        )
        .order_by(Application.rated_on, Application.number)
        .limit(limit)
    )
    rows, opened = list(waiting), 0
    if not rows:
        return 0  # the minute's usual answer, without taking the writer's lock
    with node.events.transaction():
        for row in rows:
            grade = row.rating_grade or ratings.grade_of_stars(row.rating)
            if not opens_case(grade):
                continue
            code, name = _department(catalogues, row.item_code, row.item_version)
            payload = {
                "number": row.number,
                "station": row.station,
                "item_code": row.item_code,
                "department_code": code,
                "department": name,
                "grade": grade,
                "reasons": json.loads(row.rating_reasons or "[]"),
                "comment": row.rating_comment or "",
                "rated_on": row.rated_on.isoformat() if row.rated_on else None,
                "opened_on": today.isoformat(),
                "due": add_working_days(today, DEADLINE_DAYS, holidays).due.isoformat(),
            }
            node.events.append(OPENED, entity(row.number), payload, stream=node.identity.station)
            opened += 1
    return opened


def _department(catalogues: list[Catalogue], code: str, version: int) -> tuple[str, str]:
    """The item's department, by the catalogue version the application was filed under where this node has it."""
    for catalogue in catalogues:
        try:
            item = catalogue.item(code, version)
        except KeyError:
            continue
        return item.department_code, item.department
    name = known_items(catalogues).get(code, ("", "", ""))[2]
    return department_of(code), name or f"部门 {department_of(code)}"


def record_step(node: Context, number: str, step: str, fields: dict, signer: dict) -> None:
    """Record one step of a case (an event type of node.rules.rectification) with what the clerk wrote and who
    they are (`web.auth.signed_by`); refused in Chinese, nothing written, if it is not the case's next step."""
    row = Rectification.get_or_none(Rectification.number == number)
    if row is None:
        raise FollowUpRefused([f"办件 {number} 没有整改案件"])
    if row.county != node.identity.station:
        raise FollowUpRefused(["此整改案件由其他县级中心立案，只能由立案单位办理"])
    payload = {**fields, **signer}
    if isinstance(payload.get("note"), str):
        payload["note"] = payload["note"].strip()
    if problems := step_problems(row.state, step, payload):
        raise FollowUpRefused(problems)
    node.events.append(step, entity(number), payload, stream=node.identity.station)


@dataclass(frozen=True)
class Case:
    """A rectification case as its pages show it."""

    number: str
    station: str  # the filing station's name
    item_code: str
    department: str
    rating: str  # the grade in words with its reasons
    comment: str
    rated_on: dt.date | None
    opened_on: dt.date
    due: dt.date
    state: str
    state_name: str
    next_step: str | None  # the event type of the step it waits for; None once closed
    overdue: bool
    finding: str
    revisit_tries: int
    closed_on: dt.date | None


@dataclass(frozen=True)
class StepLine:
    """One recorded step: what, when (Beijing time), who, and what they wrote."""

    name: str
    at: dt.datetime
    by: str
    note: str


def _case(row: Rectification, today: dt.date, names: dict[str, str]) -> Case:
    return Case(
        number=row.number,
        station=names.get(row.station, row.station),
        item_code=row.item_code,
        department=row.department,
        rating=ratings.describe(row.grade, json.loads(row.reasons)),
        comment=row.comment or "",
        rated_on=row.rated_on,
        opened_on=row.opened_on,
        due=row.due,
        state=row.state,
        state_name=STATE_NAMES.get(row.state, row.state),
        next_step=STEP_OF_STATE.get(row.state),
        overdue=is_overdue(row.due, today, row.state),
        finding=FINDINGS.get(row.finding or "", ""),
        revisit_tries=row.revisit_tries,
        closed_on=row.closed_on,
    )


def open_cases(county: str, today: dt.date, *, closed: bool = False) -> list[Case]:
    """This county's cases still open (or, with `closed`, those closed), the nearest deadline first."""
    query = Rectification.select().where(Rectification.county == county)
    query = query.where(Rectification.state == CLOSED) if closed else query.where(Rectification.state != CLOSED)
    rows = list(query.order_by(Rectification.due, Rectification.number).limit(500))
    return [_case(row, today, _station_names({row.station for row in rows})) for row in rows]


def case_of(number: str, county: str, today: dt.date) -> Case | None:
    row = Rectification.get_or_none((Rectification.number == number) & (Rectification.county == county))
    return None if row is None else _case(row, today, _station_names({row.station}))


def steps_of(number: str) -> list[StepLine]:
    """The case's recorded steps in causal order."""
    rows = EventRecord.select(EventRecord.body).where(
        (EventRecord.entity == entity(number)) & (EventRecord.status == APPLIED)
    )
    lines = []
    for event in causal_order(parse_event(bytes(body)) for (body,) in rows.tuples()):
        payload = event.payload
        at = dt.datetime.fromtimestamp((event.hlc >> 16) / 1000, CHINA)
        by = payload.get("by_name") or payload.get("by") or "系统自动立案"
        lines.append(StepLine(STEP_NAMES.get(event.type, event.type), at, by, _note(event.type, payload)))
    return lines


def _note(step: str, payload: dict) -> str:
    if step == OPENED:
        return f"责任部门：{payload.get('department', '')}；整改期限：{payload.get('due', '')}"
    note = payload.get("note", "")
    if step == VERIFIED:
        return f"{FINDINGS.get(payload.get('finding'), '')}：{note}"
    if step == REVISITED:
        if not payload.get("reached"):
            return f"未联系上群众：{note}"
        return f"群众{'满意' if payload.get('satisfied') else '不满意'}：{note}"
    return note


def _station_names(codes: set[str]) -> dict[str, str]:
    return dict(Station.select(Station.code, Station.name).where(Station.code.in_(list(codes))).tuples())


class RectificationProjection:
    """A case's row from the county's events. Only a hub above the filing station opens a case (in its own
    stream), and only the county that opened it takes its steps; an opening for a case already open, or a
    step out of order, is refused with its reason."""

    event_types = frozenset({OPENED, *STEPS})

    def apply(self, event: Event) -> None:
        number = event.entity.removeprefix("rectification:")
        row = Rectification.get_or_none(Rectification.number == number)
        if event.type == OPENED:
            if row is not None:
                raise RuleViolation("此办件的差评已转为整改案件，不再重复立案")
            self._open(event, number)
            return
        if row is None:
            raise RuleViolation(f"办件 {number} 没有整改案件")
        if row.county != event.stream:
            raise RuleViolation("只有立案的县级中心可以办理此整改案件")
        try:
            state = next_state(row.state, event.type, event.payload, row.revisit_tries)
        except ValueError as exc:
            raise RuleViolation(str(exc)) from exc
        changes: dict = {"state": state}
        if event.type == VERIFIED:
            changes["finding"] = event.payload["finding"]
        if event.type == REVISITED:
            changes["revisit_tries"] = row.revisit_tries + 1
            changes["satisfied"] = event.payload.get("satisfied") if event.payload["reached"] else None
        if state == CLOSED:
            changes["closed_on"] = beijing_date(event.hlc)
        Rectification.update(**changes).where(Rectification.number == number).execute()

    def _open(self, event: Event, number: str) -> None:
        payload = event.payload
        station, writer = payload.get("station"), event.stream.partition("-")[0]
        if not isinstance(station, str) or not writer.isdigit() or not station.startswith(writer):
            raise RuleViolation("只有办件所在地的县级中心可以为其差评立案")
        try:
            fields = {
                "item_code": str(payload["item_code"])[:32],
                "department_code": str(payload["department_code"])[:32],
                "department": str(payload["department"])[:100],
                "grade": str(payload["grade"])[:32],
                "reasons": json.dumps([str(r) for r in payload.get("reasons") or []], ensure_ascii=False),
                "comment": str(payload.get("comment") or ""),
                "rated_on": dt.date.fromisoformat(payload["rated_on"]) if payload.get("rated_on") else None,
                "opened_on": dt.date.fromisoformat(payload["opened_on"]),
                "due": dt.date.fromisoformat(payload["due"]),
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise RuleViolation(f"整改立案记录不完整：{exc}") from exc
        state = next_state(None, OPENED, {})
        Rectification.create(number=number, county=event.stream, station=station, state=state, **fields)

    def reset(self, entity_name: str | None) -> None:
        query = Rectification.delete()
        if entity_name is not None:
            query = query.where(Rectification.number == entity_name.removeprefix("rectification:"))
        query.execute()
