"""The dashboard's figures of 差评整改 and 办件回访 for an area and filters (docs/architecture.md defines them):
差评整改率, the cases opened in the period that are closed; what is overdue now; 回访率, the sampled cases of
the period whose resident was reached; and the calls' results per window and per filing station.

Tables come back as (name, title, headers, rows), which `node.hub.dashboard` shows and exports like its own."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from node.hub.filters import Filters, in_area, narrowed
from node.rules.callbacks import PROBLEMS
from node.rules.rectification import CLOSED, STATE_NAMES
from storage.models import Callback, Rectification, Station

LIST_LIMIT = 200


@dataclass(frozen=True)
class FollowUp:
    opened: int  # rectification cases opened in the period
    closed: int  # of those, closed by now
    overdue: int  # open cases past their deadline, whenever opened
    sampled: int  # call-back cases of the period's closed cases (by decision day)
    reached: int
    satisfied: int

    @property
    def rectification_rate(self) -> str:
        return percent(self.closed, self.opened)

    @property
    def callback_rate(self) -> str:
        return percent(self.reached, self.sampled)


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "—"


def figures(
    area: str,
    filters: Filters,
    today: dt.date,
    stations: Mapping[str, Station],
    items: Mapping[str, tuple[str, str, str]],
) -> tuple[FollowUp, list[tuple]]:
    """The figures and the tables of the area, as of `today` (Beijing)."""
    cases = narrowed(
        Rectification.select().where(in_area(Rectification.station, area, filters)),
        filters,
        Rectification.item_code,
        Rectification.opened_on,
    )
    opened = list(cases)
    overdue_query = narrowed(
        Rectification.select().where(
            in_area(Rectification.station, area, filters)
            & (Rectification.state != CLOSED)
            & (Rectification.due < today)
        ),
        filters,
        Rectification.item_code,
    )
    overdue = list(overdue_query.order_by(Rectification.due, Rectification.number).limit(LIST_LIMIT))
    calls = list(
        narrowed(
            Callback.select().where(in_area(Callback.station, area, filters)),
            filters,
            Callback.item_code,
            Callback.decided_on,
        )
    )
    reached = [c for c in calls if c.reached]
    summary = FollowUp(
        opened=len(opened),
        closed=sum(1 for c in opened if c.state == CLOSED),
        overdue=overdue_query.count(),
        sampled=len(calls),
        reached=len(reached),
        satisfied=sum(1 for c in reached if c.satisfied),
    )
    names = {code: s.name for code, s in stations.items()}
    tables = [
        _summary(summary),
        _departments(opened, today),
        _overdue(overdue, names, items),
        _calls("callbacks_windows", "回访结果（按办理窗口）", "办理窗口", calls, lambda c: c.window, names),
        _calls("callbacks_stations", "回访结果（按收件站点）", "收件站点", calls, lambda c: c.station, names),
    ]
    return summary, tables


def _summary(f: FollowUp) -> tuple:
    rows = [
        ("差评整改立案", f.opened),
        ("其中已办结（已回访）", f.closed),
        ("差评整改率", f.rectification_rate),
        ("当前超期未办结的整改", f.overdue),
        ("回访抽样件数", f.sampled),
        ("回访接通件数", f.reached),
        ("回访率", f.callback_rate),
        ("回访满意件数", f.satisfied),
        ("回访满意率", percent(f.satisfied, f.reached)),
    ]
    return ("followup", "差评整改与办件回访", ("指标", "数值"), rows)


def _departments(opened: list[Rectification], today: dt.date) -> tuple:
    by: dict[tuple[str, str], Counter] = {}
    for case in opened:
        counts = by.setdefault((case.department_code, case.department), Counter())
        counts["opened"] += 1
        counts["closed"] += case.state == CLOSED
        counts["overdue"] += case.state != CLOSED and case.due < today
    rows = [
        (code, name, c["opened"], c["closed"], percent(c["closed"], c["opened"]), c["overdue"])
        for (code, name), c in sorted(by.items())
    ]
    headers = ("部门代码", "责任部门", "立案", "已办结", "差评整改率", "超期未办结")
    return ("rectifications_departments", "差评整改（按责任部门）", headers, rows)


def _overdue(rows: list[Rectification], names: Mapping[str, str], items) -> tuple:
    body = [
        (
            r.number,
            names.get(r.station, r.station),
            items.get(r.item_code, (r.item_code,))[0],
            r.department,
            STATE_NAMES.get(r.state, r.state),
            r.due.isoformat(),
        )
        for r in rows
    ]
    headers = ("办件编号", "申请站点", "事项", "责任部门", "当前步骤", "整改期限")
    return ("rectifications_overdue", "超期未办结的差评整改", headers, body)


def _calls(name: str, title: str, label: str, calls: list[Callback], key, names: Mapping[str, str]) -> tuple:
    """Per window or station: sampled, reached, the rate, satisfied or not, and each problem's count."""
    by: dict[str, Counter] = {}
    for call in calls:
        counts = by.setdefault(key(call) or "", Counter())
        counts["sampled"] += 1
        if call.reached:
            counts["reached"] += 1
            counts["satisfied" if call.satisfied else "dissatisfied"] += 1
            counts.update(json.loads(call.problems))
    rows = [
        (
            code or "—",
            names.get(code, code or "（未知）"),
            c["sampled"],
            c["reached"],
            percent(c["reached"], c["sampled"]),
            c["satisfied"],
            c["dissatisfied"],
            *(c[p] for p in PROBLEMS),
        )
        for code, c in sorted(by.items())
    ]
    headers = ("编码", label, "抽样", "接通", "回访率", "满意", "不满意", *PROBLEMS.values())
    return (name, title, headers, rows)
