"""The application projection: each application event applied through the state machine
(`node.rules.workflow`), the deadline counted at acceptance, the statistics added to in the event's
transaction; a replay of one application gives the same row and counts whatever order events came in."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable
from functools import lru_cache

import peewee as pw

from node.cases.events import (
    ATTACHED,
    CONFLICT,
    CONFLICT_SETTLED,
    FILED,
    RATING_ADDED,
    RULE_DISPUTED,
    beijing_date,
    case_stream,
    deciding_place,
    entity,
    licence_title,
    next_state_after,
)
from node.cases.statistics import add_counts
from node.catalogue.model import Catalogue
from node.rules import deferrals, ratings, tally
from node.rules.deadlines import add_working_days, working_days_between
from node.rules.holidays import HolidayTable
from node.rules.workflow import BASES, LAPSED, ON_AUTHORITY, TRANSITIONS, IllegalTransition, level_problem, next_state
from provisioning.authority import DECIDING, cross_region
from storage.models import (
    Application,
    Attachment,
    DataKey,
    Statistic,
    forget_rows,
    get_row,
    insert_row,
    read_rows,
    update_row,
)
from sync.event import Event
from sync.projection import RuleViolation


class ApplicationProjection:
    """Applies application events through the state machine; the deadline is counted at acceptance."""

    def __init__(
        self,
        catalogue: Callable[[], Catalogue],
        holidays: Callable[[], HolidayTable],
        installation: str,
        *,
        deciding_level: Callable[[str, int, str], str | None],
        signer_level: Callable[[str], str],
        signer_station: Callable[[str], str] = lambda origin: "",
        statistics: bool = True,
    ):
        self.catalogue = catalogue
        self.holidays = holidays
        self.installation = installation  # a data key wrapped to us in the event is kept, so we can read
        self.deciding_level = deciding_level  # (item code, version, station) -> the catalogue's 决定层级
        self.signer_level = signer_level  # origin -> the level its certificate binds
        self.signer_station = signer_station  # origin -> the station its certificate binds
        # Kept where a dashboard reads them (a county or city hub). A station's tally was a fifth of applying a
        # pull of its decisions (W4), for counters nobody there could see; its rows' `tally` stays empty.
        self.statistics = statistics

    event_types = frozenset(TRANSITIONS) | {ATTACHED, CONFLICT_SETTLED, RATING_ADDED, RULE_DISPUTED}
    # An application's rows (its row, attachments, data keys) are written only by events in its case's stream
    # (checked in `apply`: numbers start with the station's code), and the statistics are only added to: two
    # counties' relays can be applied at once (`EventLog.area_of`).
    confined = True

    def apply(self, event: Event) -> None:
        payload = event.payload
        if event.type == FILED:
            return self._filed(event, payload)
        if event.type == ATTACHED:
            return self._attached(event, payload)
        row = get_row(Application, event.entity.removeprefix("application:"))
        if row is None:
            raise RuleViolation(f"办件 {event.entity} 尚未建立")
        if event.stream != (stream := case_stream(row)):  # trust says who writes there: the station and its
            raise RuleViolation(f"办件 {row.number} 的事件只能记在事件流 {stream} 中")  # levels, or the 通办 county
        if event.type in DECIDING:  # a certificate's authority covers the step, the catalogue says on which items
            level = self.deciding_level(row.item_code, row.item_version, deciding_place(row))
            if problem := level_problem(event.type, level, self.signer_level(event.origin)):
                raise RuleViolation(problem)
        if event.type == ON_AUTHORITY:
            self._check_authority(event, row, payload)
        if event.type in (CONFLICT_SETTLED, RULE_DISPUTED):
            return  # a clerk's note, or a hub's finding for one: the state stays what the causal order made it
        day = beijing_date(event.hlc)
        if event.type == RATING_ADDED:  # text only: the timeline shows it; the row and the counts stay
            if problems := ratings.addition_problems(str(payload.get("comment", "")), row.rated_on, day):
                raise RuleViolation("；".join(problems))
            return
        if event.type == "application.rated" and row.rated_on is not None:
            raise RuleViolation(f"办件 {row.number} 已评价过，一件只评一次；{ratings.ADDITION_DAYS} 天内可以追加评价")
        try:
            row.state = next_state_after(row.state, event.type, payload)
        except IllegalTransition as exc:  # two levels acted at once: the later in causal order is held back
            raise RuleViolation(CONFLICT + str(exc)) from exc
        if event.type in DEFERRAL_STEPS:
            self._deferral(row, event.type, payload, day)
        if event.type == "application.accepted":
            row.accepted_on = day
            self.count_deadline(row)
        elif event.type == "application.suspended":
            row.paused_since = day
        elif event.type == "application.resumed":
            if day > row.paused_since:  # the days the procedure took: from its first day to the day before resuming
                last = day - dt.timedelta(days=1)
                row.pauses = json.dumps(json.loads(row.pauses) + [[row.paused_since.isoformat(), last.isoformat()]])
            row.paused_since = None
            self.count_deadline(row)
        elif event.type == "application.decided":
            row.decision_reason = payload.get("reason") or None
            row.decided_on = day
            row.handling_days = _working_days(row.accepted_on, day, self.holidays(), _pauses(row))
        elif event.type == ON_AUTHORITY:  # received, accepted and decided on the spot
            row.accepted_on = row.decided_on = day
            self.count_deadline(row)
            row.handling_days = 0
        elif event.type == "application.delivered":
            row.delivered_on = day
        elif event.type == "application.rated":
            grade, reasons = _grade(payload)
            row.rating, row.rating_grade = ratings.STARS[grade], grade
            row.rating_reasons = json.dumps(reasons) if reasons else None
            row.rating_comment = payload.get("comment") or None
            row.rated_on = day
        if self.statistics:
            row.tally = _recount(row.tally, row)
        update_row(row)

    def _check_authority(self, event: Event, row: Application, payload: dict) -> None:
        """A station's approval stands only if the catalogue version the case was filed under authorises
        that station on that basis: no node takes the event's word for it."""
        try:
            item = self.catalogue().item(row.item_code, row.item_version)
        except KeyError:
            raise RuleViolation(f"本节点没有事项 {row.item_code} 第 {row.item_version} 版，无法核对办结授权") from None
        basis, station = payload.get("basis"), self.signer_station(event.origin)
        if not item.authorised(station, str(basis)):
            raise RuleViolation(f"站点 {station} 未获授权自行办结“{item.name}”（{BASES.get(basis, basis)}）")
        if basis == "rule" and payload.get("rule") != f"{item.code}@{item.version}":
            raise RuleViolation("秒办须写明所依据的规则版本")

    def read_ahead(self, events: list[Event]) -> None:
        """The rows a run's transitions and scans change, in a few queries (a filing's row is not there yet);
        each is then written once, however many of the run's events change it (`deferred_inserts`)."""
        read_rows(Application, {e.entity.removeprefix("application:") for e in events if e.type != FILED})

    def _filed(self, event: Event, payload: dict) -> None:
        home, handler = cross_region(event.stream)
        if payload["station"] != home or not payload["number"].startswith(payload["station"] + "-"):
            raise RuleViolation("办件只能在本站点的事件流中、以本站点编码为号建立")
        if payload.get("handler") != handler or (handler and home.startswith(handler)):
            raise RuleViolation("跨区域通办的办件应记在本站点为办理县设的事件流中，且办理县不是本县")
        row = {
            "number": payload["number"],
            "station": payload["station"],
            "item_code": payload["item"]["code"],
            "item_version": payload["item"]["version"],
            "bundle": payload.get("bundle"),
            "case_number": _case_of(payload),
            "state": next_state(None, FILED),
            "sealed": json.dumps(payload["sealed"], ensure_ascii=False, sort_keys=True),
            "id_lookup": payload["lookups"]["id_number"],
            "name_lookup": payload["lookups"]["name"],
            "masked_id": payload["masked_id"],
            "masked_name": payload.get("masked_name"),  # absent from applications filed before query codes
            "query_code": payload.get("query_code"),
            "id_tail_check": payload.get("id_tail_check"),
            "request_token": payload["request_token"],
            "filed_by": payload["operator"],
            "filed_on": beijing_date(event.hlc),
            "pauses": "[]",
            "due_provisional": False,
            "deferral_owed": 0,
            "handler": handler,
        }
        counts, row["tally"] = {}, "[]"
        if self.statistics:  # what a filing counts for, and its encoding, shared by a batch's filings of a day
            facts = tally.Facts(row["station"], row["item_code"], row["bundle"], row["filed_on"])
            counts, row["tally"] = tally.change(None, facts)
        try:  # the number and (station, request token) are unique: one insert checks both
            insert_row(Application, row)
        except pw.IntegrityError as exc:
            raise RuleViolation(f"办件 {payload['number']} 已存在（同一编号或同一次提交）") from exc
        add_counts(counts)
        if wrapped := payload["keys"].get(self.installation):
            insert_row(
                DataKey,
                {
                    "entity": entity(payload["number"]),
                    "recipient": self.installation,
                    "wrapped": base64.b64decode(wrapped),
                },
                replace_on=("entity", "recipient"),
            )

    def _attached(self, event: Event, payload: dict) -> None:
        row = get_row(Application, payload["number"])
        if row is None:
            raise RuleViolation(f"办件 {payload['number']} 尚未建立")
        if event.stream != case_stream(row) or event.entity != entity(row.number):  # owned, like every transition
            raise RuleViolation(f"办件 {row.number} 的材料只能记在事件流 {case_stream(row)} 中")
        if licence_title(payload["material"]) is not None and self.signer_level(event.origin) in ("", "village"):
            raise RuleViolation("电子证照只能由作出决定的单位生成，村级代办点不能生成")  # a village's key is no licence
        names = ("number", "material", "blob", "content_type", "size", "by")
        # held back and written with the batch's other rows: not a round trip for each attachment event
        insert_row(Attachment, {name: payload[name] for name in names}, replace_on=("number", "blob"))

    def _deferral(self, row: Application, event_type: str, payload: dict, day: dt.date) -> None:
        """容缺: what an acceptance defers (only what the item's version marks deferrable, where this node has
        it), each material brought (again is no change: the station and the window may both record it), and a
        case ended only for what was owed past its last day."""
        try:
            owed = deferrals.read_deferral(payload) if event_type == "application.accepted" else None
        except ValueError as exc:
            raise RuleViolation(str(exc)) from exc
        if event_type == "application.accepted":
            if owed is not None and (refused := self._not_deferrable(row, [i.key for i in owed.items])):
                raise RuleViolation(f"{'、'.join(refused)}不是可以容缺的材料")
            _keep(row, owed)
            return
        held = deferrals.decode(row.deferral)
        if event_type == "application.deferral_lapsed":
            if problems := deferrals.lapse_problems(held, day, str(payload.get("reason", ""))):
                raise RuleViolation("；".join(problems))
            return
        keys = [str(key) for key in payload.get("items") or []]
        if held is None or not keys:
            raise RuleViolation("这个办件没有容缺的材料" if held is None else "补齐容缺材料须列明补齐的材料")
        if unknown := sorted(set(keys) - {item.key for item in held.items}):
            raise RuleViolation(f"{'、'.join(unknown)}不是这个办件容缺的材料")
        _keep(row, deferrals.supply(held, keys, day))

    def _not_deferrable(self, row: Application, keys: list[str]) -> list[str]:
        try:
            item = self.catalogue().item(row.item_code, row.item_version)
        except KeyError:
            return []  # a version this node lacks: the publishing hub, which holds it, checks
        deferrable = {m.key for m in item.materials if m.deferrable}
        return [key for key in keys if key not in deferrable]

    def count_deadline(self, row: Application) -> None:
        """The promised deadline from the day of acceptance, skipping special procedures' days. Without the
        item's version in this node's catalogue (it has not arrived yet) there is no due date until it does."""
        try:
            limit = self.catalogue().item(row.item_code, row.item_version).promised_limit
        except KeyError:
            row.due, row.due_provisional = None, False
            return
        deadline = _due(row.accepted_on, limit.days, self.holidays(), limit.unit, _pauses(row))
        row.due, row.due_provisional = deadline.due, deadline.provisional

    def reset(self, entity_name: str | None) -> None:
        """Before a replay of one application, take back what it added to the statistics; before a
        rebuild, drop them all (the replay counts everything again). What a run holds back is written first,
        so that the rows read and deleted here are the rows as they stand."""
        forget_rows()
        if entity_name is None:
            Statistic.delete().execute()
        else:
            number = entity_name.removeprefix("application:")
            counted = Application.select(Application.tally).where(Application.number == number).scalar()
            add_counts(tally.difference({}, tally.decode(counted)))
        for model in (Attachment, Application):
            query = model.delete()
            if entity_name is not None:
                query = query.where(model.number == entity_name.removeprefix("application:"))
            query.execute()


DEFERRAL_STEPS = frozenset({"application.accepted", "application.deferred_supplied", "application.deferral_lapsed"})


def _keep(row: Application, deferral: deferrals.Deferral | None) -> None:
    """The deferral on the row; a field set is written, so one that stays as it was (most acceptances defer
    nothing) is left alone."""
    kept = {
        "deferral": deferrals.encode(deferral),
        "deferral_due": deferral.due if deferral else None,
        "deferral_owed": len(deferral.owed) if deferral else 0,
    }
    for name, value in kept.items():
        if getattr(row, name) != value:
            setattr(row, name, value)


def _grade(payload: dict) -> tuple[str, list[str]]:
    """The grade and reasons of a rating event; one from before the grades carried 1–5 stars."""
    if "grade" not in payload:
        if not 1 <= int(payload.get("stars", 0)) <= 5:
            raise RuleViolation("评价须为 1–5 星")
        return ratings.grade_of_stars(int(payload["stars"])), []
    reasons = list(payload.get("reasons") or [])
    problems = ratings.rating_problems(
        payload["grade"], reasons, str(payload.get("comment") or ""), payload.get("channel", "")
    )
    if problems:
        raise RuleViolation("；".join(problems))
    return payload["grade"], reasons


# Pure, and called with the same arguments for most of a batch (a few days, a few limits): counted once each.
_due = lru_cache(maxsize=1024)(add_working_days)
_working_days = lru_cache(maxsize=1024)(working_days_between)


def _pauses(row: Application) -> tuple[tuple[dt.date, dt.date], ...]:
    return _pauses_of(row.pauses)


@lru_cache(maxsize=256)
def _pauses_of(text: str) -> tuple[tuple[dt.date, dt.date], ...]:
    return tuple((dt.date.fromisoformat(first), dt.date.fromisoformat(last)) for first, last in json.loads(text))


def _recount(counted: str, row: Application) -> str:
    """Add to the statistics what changed in this application's contribution; its new contribution."""
    facts = tally.Facts(
        row.station,
        row.item_code,
        row.bundle,
        row.filed_on,
        row.accepted_on,
        row.decided_on,
        row.due,
        row.handling_days,
        row.rated_on,
        row.rating,
        *_deferral_facts(row),
    )
    changes, counts = tally.change(counted, facts)
    add_counts(changes)
    return counts


def _case_of(payload: dict) -> str | None:
    """The 一件事 case an item belongs to: a number of the same station (its first item's), else none."""
    case = payload.get("case")
    if case is None:
        return None
    if not isinstance(case, str) or not case.startswith(payload["station"] + "-") or len(case) > 64:
        raise RuleViolation("一件事的办件号应为同一站点的办件号")
    return case


def _deferral_facts(row: Application) -> tuple[bool, bool, bool]:
    """Deferred, supplied on time, ended for a lapse: what a 容缺 case counts for."""
    held = deferrals.decode(row.deferral)
    return held is not None, bool(held and held.supplied_on_time), held is not None and row.state == LAPSED
