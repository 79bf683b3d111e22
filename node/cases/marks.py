"""Deadline marks: which running applications are due soon or overdue, marked once a minute by the
scheduler so that lists colour and count them by a lookup, not by counting working days per row.
"""

from __future__ import annotations

import datetime as dt

import peewee as pw

from node.cases.visibility import Viewer, visible
from node.rules.deadlines import status
from node.rules.holidays import HolidayTable
from storage.database import write_transaction
from storage.models import (
    Application,
    DeadlineMark,
    upsert,
)

RUNNING = ("accepted", "in_review")  # the states in which a deadline's clock runs


MARK_HORIZON_DAYS = 21  # due further off than this cannot be 3 working days away, even across the Spring Festival


def mark_deadlines(today: dt.date, holidays: HolidayTable) -> dict[str, int]:
    """The scheduler's job: mark each running application due soon or overdue (or neither), so that lists
    colour and count them by a lookup. A mark keeps the day it first stood; the counts per status."""
    horizon = today + dt.timedelta(days=MARK_HORIZON_DAYS)
    running = Application.select(Application.number, Application.due).where(
        Application.state.in_(RUNNING) & (Application.due <= horizon)
    )
    wanted = {row.number: status(row.due, today, holidays) for row in running}
    wanted = {number: mark for number, mark in wanted.items() if mark != "on_time"}
    # The writer lock from the start: a deferred transaction that reads first and writes later cannot wait
    # for a push's commit (SQLite refuses the upgrade at once, "database is locked", whatever busy_timeout).
    with write_transaction():
        known = {m.number: m for m in DeadlineMark.select()}
        DeadlineMark.delete().where(DeadlineMark.number.not_in(list(wanted) or [""])).execute()
        for number, mark in wanted.items():
            if number not in known or known[number].status != mark:
                upsert(DeadlineMark, number=number, status=mark, since=today)
    return {mark: sum(1 for m in wanted.values() if m == mark) for mark in ("due_soon", "overdue")}


def deadline_counts(viewer: Viewer) -> dict[str, int]:
    """How many running applications `viewer` sees are marked due soon and overdue, for the queue's filters."""
    counts = (
        DeadlineMark.select(DeadlineMark.status, pw.fn.COUNT(DeadlineMark.number))
        .join(Application, on=(Application.number == DeadlineMark.number))
        .where(Application.state.in_(RUNNING) & visible(viewer))
        .group_by(DeadlineMark.status)
    )
    return {"due_soon": 0, "overdue": 0, **dict(counts.tuples())}


def deadline_marks(rows: list[Application]) -> dict[str, str]:
    """For a list: "overdue", "due_soon" or "" per application, as last marked, while its clock runs."""
    numbers = [row.number for row in rows if row.state in RUNNING]
    marks = DeadlineMark.select(DeadlineMark.number, DeadlineMark.status).where(DeadlineMark.number.in_(numbers))
    marks = dict(marks.tuples())
    return {row.number: marks.get(row.number, "") for row in rows}
