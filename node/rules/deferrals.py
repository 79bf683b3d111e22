"""容缺受理: the window's check of each material at acceptance, which may be deferred and by when, supplying
them afterwards, and when a deferral has lapsed.

Pure: the item's materials and the clerk's check in, problems in plain Chinese out; days come in as arguments.
A material may be 容缺 only if the catalogue marks it deferrable (非关键材料); every other one must be received
(原件, 复印件 or 电子件) before the case is accepted, or the window asks for corrections (补正) instead.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

RECEIVED = {"original": "原件", "copy": "复印件", "electronic": "电子件"}
DEFERRED, MISSING = "deferred", "missing"
CHECKS = {**RECEIVED, DEFERRED: "容缺", MISSING: "未收到"}  # what the clerk ticks for each material
DEFERRAL_DAYS = (1, 60)  # working days a resident may be given to bring what was deferred
DEFAULT_DEFERRAL_DAYS = 10


class Asked(Protocol):
    """A material as the catalogue asks for it (`node.catalogue.model.Material`)."""

    key: str
    name: str
    deferrable: bool


@dataclass(frozen=True)
class DeferredItem:
    key: str
    name: str
    supplied_on: dt.date | None = None  # the Beijing day it was brought; None while it is still owed


@dataclass(frozen=True)
class Deferral:
    """What a case accepted with 容缺 owes: the deferred materials and the last day to bring them."""

    due: dt.date
    items: tuple[DeferredItem, ...]

    @property
    def owed(self) -> tuple[DeferredItem, ...]:
        return tuple(item for item in self.items if item.supplied_on is None)

    def overdue(self, today: dt.date) -> bool:
        """Something is still owed after its last day: the page and the queue warn."""
        return bool(self.owed) and today > self.due

    @property
    def completed_on(self) -> dt.date | None:
        """The day the last deferred material was brought; None while any is owed."""
        if self.owed or not self.items:
            return None
        return max(item.supplied_on for item in self.items if item.supplied_on)

    @property
    def supplied_on_time(self) -> bool:
        """Everything brought by its last day: what 补齐率 counts."""
        completed = self.completed_on
        return completed is not None and completed <= self.due


def acceptance_problems(materials: Sequence[Asked], check: Mapping[str, str], deadline_days: object) -> list[str]:
    """Everything wrong with accepting on this check, at once: a material left unchecked, one the item does
    not ask for, a 容缺 the catalogue does not allow, one not received, a deadline out of range."""
    problems = []
    known = {m.key for m in materials}
    if unknown := [key for key in check if key not in known]:
        problems.append(f"核对的材料不在本事项的材料清单中：{'、'.join(map(str, unknown))}")
    if unchecked := [m.name for m in materials if check.get(m.key) not in CHECKS]:
        problems.append(f"请逐项核对材料（原件、复印件、电子件或容缺）：{'、'.join(unchecked)}尚未选择")
    if refused := [m.name for m in materials if check.get(m.key) == DEFERRED and not m.deferrable]:
        problems.append(
            f"{'、'.join(refused)}不是可以容缺的材料（只有事项清单标明的非关键材料可以容缺），须收到后才能受理"
        )
    if missing := [m for m in materials if check.get(m.key) == MISSING]:
        said = f"{'、'.join(m.name for m in missing)}尚未收到，不能受理：请收齐后受理，或要求补正"
        if could := [m.name for m in missing if m.deferrable]:
            said += f"；其中{'、'.join(could)}可以选“容缺”，由申请人签署容缺承诺书后受理"
        problems.append(said)
    if any(check.get(m.key) == DEFERRED for m in materials) and not _days_ok(deadline_days):
        problems.append(f"容缺材料的补齐期限应为 {DEFERRAL_DAYS[0]} 到 {DEFERRAL_DAYS[1]} 个工作日")
    return problems


def _days_ok(days: object) -> bool:
    return isinstance(days, int) and not isinstance(days, bool) and DEFERRAL_DAYS[0] <= days <= DEFERRAL_DAYS[1]


def deferred(materials: Sequence[Asked], check: Mapping[str, str]) -> list[Asked]:
    """The materials the check defers, in the catalogue's order."""
    return [m for m in materials if check.get(m.key) == DEFERRED]


def read_deferral(payload: Mapping) -> Deferral | None:
    """The deferral an acceptance's payload carries (`deferral`: items, deadline), None if it defers nothing;
    ValueError, in words, if it is malformed (a remote event is then quarantined with that reason)."""
    given = payload.get("deferral")
    if not given:
        return None
    try:
        due = dt.date.fromisoformat(given["deadline"])
        items = tuple(DeferredItem(str(item["key"]), str(item["name"])) for item in given["items"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError("容缺受理须写明容缺的材料和补齐期限") from exc
    if not items or len({item.key for item in items}) != len(items):
        raise ValueError("容缺的材料应逐项列明，每项一次")
    return Deferral(due, items)


def supply_problems(deferral: Deferral | None, keys: Iterable[str]) -> list[str]:
    """Why these materials cannot be recorded as supplied: none named, not deferred here, or already brought."""
    keys = list(keys)
    if deferral is None:
        return ["这个办件没有容缺的材料"]
    if not keys:
        return ["请勾选已补齐的容缺材料"]
    by_key = {item.key: item for item in deferral.items}
    problems = []
    if unknown := [key for key in keys if key not in by_key]:
        problems.append(f"{'、'.join(unknown)}不是这个办件容缺的材料")
    if done := [by_key[key] for key in keys if key in by_key and by_key[key].supplied_on is not None]:
        problems.append("、".join(f"{item.name}已于 {item.supplied_on} 补齐" for item in done))
    return problems


def supply(deferral: Deferral, keys: Iterable[str], day: dt.date) -> Deferral:
    """The deferral with these materials brought on `day`; one brought before keeps its first day."""
    wanted = set(keys)
    items = tuple(
        replace(item, supplied_on=day) if item.key in wanted and item.supplied_on is None else item
        for item in deferral.items
    )
    return replace(deferral, items=items)


def lapse_problems(deferral: Deferral | None, today: dt.date, reason: str) -> list[str]:
    """Why the window may not end the case for a lapsed deferral now: nothing owed, or its last day not past."""
    if deferral is None:
        return ["这个办件没有容缺的材料，不能以容缺逾期终止办理"]
    problems = []
    if not deferral.owed:
        problems.append("容缺的材料已全部补齐，不能以逾期未补齐终止办理")
    elif today <= deferral.due:
        problems.append(f"容缺材料的补齐期限到 {deferral.due} 为止，尚未届满，不能终止办理")
    if not reason.strip():
        problems.append("请写明终止办理的理由，它会告知申请人")
    return problems


def encode(deferral: Deferral | None) -> str | None:
    """As the application's row keeps it."""
    if deferral is None:
        return None
    items = [[i.key, i.name, i.supplied_on.isoformat() if i.supplied_on else None] for i in deferral.items]
    return json.dumps({"due": deferral.due.isoformat(), "items": items}, ensure_ascii=False, separators=(",", ":"))


def decode(text: str | None) -> Deferral | None:
    if not text:
        return None
    document = json.loads(text)
    items = tuple(
        DeferredItem(key, name, dt.date.fromisoformat(day) if day else None) for key, name, day in document["items"]
    )
    return Deferral(dt.date.fromisoformat(document["due"]), items)
