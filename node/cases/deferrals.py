"""容缺受理 at the window: accepting on the clerk's check of each material, recording what is brought later, and
ending a case whose deferral lapsed. Each is one event through `transition`, refused in plain Chinese before
anything is written (the rules: `node.rules.deferrals`); the projection keeps what is owed on the row.
"""

from __future__ import annotations

import datetime as dt

import peewee as pw

from node.cases.intake import IntakeRefused, transition
from node.cases.visibility import Viewer, visible
from node.catalogue.model import Catalogue, Material
from node.rules import deferrals
from node.rules.deadlines import add_working_days
from node.rules.holidays import HolidayTable
from node.rules.workflow import TRANSITIONS
from storage.models import Application, Attachment
from sync.log import EventLog

ACCEPTED = "application.accepted"
SUPPLIED = "application.deferred_supplied"
LAPSED = "application.deferral_lapsed"
OWING = tuple(TRANSITIONS[SUPPLIED])  # the states in which a deferred material may still be brought


def to_check(catalogue: Catalogue, row: Application) -> list[Material]:
    """The materials the window checks at acceptance: the item version's, less those another item of the same
    一件事 issues (the departments pass them on). Refused in words if this node lacks the version."""
    try:
        item = catalogue.item(row.item_code, row.item_version)
    except KeyError:
        lacking = f"本站的事项清单中没有事项 {row.item_code} 的第 {row.item_version} 版"
        raise IntakeRefused([lacking + "，无法核对材料：请待事项清单同步后受理"]) from None
    bundle = catalogue.bundles.get(row.bundle or "")
    issued = {entry.material.key for entry in bundle.checklist if entry.issued_by} if bundle else set()
    return [m for m in item.materials if m.key not in issued]


def scanned_check(materials: list[Material], number: str) -> dict[str, str]:
    """What a check says when none was given: a material the station holds a scan of is received as 电子件,
    any other is missing. Accepting on nothing received is refused unless a check defers it."""
    scanned = {a.material for a in Attachment.select(Attachment.material).where(Attachment.number == number)}
    return {m.key: "electronic" if m.key in scanned else deferrals.MISSING for m in materials}


def accept(
    events: EventLog,
    catalogue: Catalogue,
    holidays: HolidayTable,
    number: str,
    payload: dict,
    *,
    check: dict[str, str] | None,
    deadline_days: object,
    today: dt.date,
) -> None:
    """受理 on the clerk's check of each material (原件, 复印件, 电子件 or 容缺), or without one on the scans held.
    The event carries the check; a 容缺 also its materials and their last day, counted in working days from
    today with this window's holiday table: the date the resident signs for on the 容缺承诺书."""
    row = Application.get_or_none(Application.number == number)
    if row is None:
        raise IntakeRefused([f"没有办件 {number}"])
    materials = to_check(catalogue, row)
    check = dict(check) if check else scanned_check(materials, number)
    if problems := deferrals.acceptance_problems(materials, check, deadline_days):
        raise IntakeRefused(problems)
    payload = {**payload, "materials": check}
    if owed := deferrals.deferred(materials, check):
        deadline = add_working_days(today, deadline_days, holidays).due
        payload["deferral"] = {
            "items": [{"key": m.key, "name": m.name} for m in owed],
            "deadline_days": deadline_days,
            "deadline": deadline.isoformat(),
        }
    transition(events, number, ACCEPTED, payload)


def supply(events: EventLog, number: str, keys: list[str], payload: dict) -> None:
    """Deferred materials brought, at the station or the window: one event naming them."""
    row = Application.get_or_none(Application.number == number)
    if row is None:
        raise IntakeRefused([f"没有办件 {number}"])
    if problems := deferrals.supply_problems(deferrals.decode(row.deferral), keys):
        raise IntakeRefused(problems)
    transition(events, number, SUPPLIED, {**payload, "items": list(keys)})


def end_lapsed(events: EventLog, number: str, payload: dict, today: dt.date) -> None:
    """The window ends a case whose deferred materials were not brought by their last day, saying why."""
    row = Application.get_or_none(Application.number == number)
    if row is None:
        raise IntakeRefused([f"没有办件 {number}"])
    held = deferrals.decode(row.deferral)
    if problems := deferrals.lapse_problems(held, today, str(payload.get("reason", ""))):
        raise IntakeRefused(problems)
    transition(events, number, LAPSED, payload)


def owing(viewer: Viewer, today: dt.date) -> dict[str, int]:
    """For the queue: the cases `viewer` sees that still owe deferred materials, and those past their last day."""
    query = Application.select(
        pw.fn.COUNT(Application.number), pw.fn.SUM(pw.Case(None, [(Application.deferral_due < today, 1)], 0))
    ).where((Application.deferral_owed > 0) & Application.state.in_(OWING) & visible(viewer))
    owed, overdue = query.scalar(as_tuple=True)
    return {"owed": owed or 0, "overdue": overdue or 0}
