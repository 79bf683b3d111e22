"""办件回访: the month's sample of closed cases a county calls back, and what a call may record.

Pure. Closed cases are grouped by the window that decided them and the station that filed them; each group
gives a share of its cases, and at least a minimum (all of them, if fewer). Which ones is decided by a keyed
hash of the county, the month and the case's number: the same cases give the same sample wherever and
however often it is drawn, in any order, and a case's chance does not depend on the other cases listed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

SAMPLED, RECORDED = "callback.sampled", "callback.recorded"
SHARE_PERCENT = 5
MINIMUM = 3
# What a resident may say went wrong, as the call list asks it.
PROBLEMS = {"overdue": "超期", "repeat_trips": "多次跑", "bribery": "吃拿卡要", "attitude": "态度差", "other": "其他"}
COMMENT_LIMIT = 300
MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


@dataclass(frozen=True, order=True)
class ClosedCase:
    """A case closed (decided) in the month: its number, the station that filed it and the window that decided."""

    window: str
    station: str
    number: str


def sample_size(count: int, share_percent: int = SHARE_PERCENT, minimum: int = MINIMUM) -> int:
    """How many of a group of `count` cases are called: the share rounded up, at least the minimum, at most all."""
    return min(count, max(minimum, math.ceil(count * share_percent / 100)))


def draw_sample(
    cases: Iterable[ClosedCase], county: str, month: str, share_percent: int = SHARE_PERCENT, minimum: int = MINIMUM
) -> tuple[ClosedCase, ...]:
    """The month's sample, per (window, station) group, in group order and then by rank."""
    groups: dict[tuple[str, str], set[ClosedCase]] = {}
    for case in cases:
        groups.setdefault((case.window, case.station), set()).add(case)
    chosen: list[ClosedCase] = []
    for key in sorted(groups):
        ranked = sorted(groups[key], key=lambda c: (_rank(county, month, c.number), c.number))
        chosen += ranked[: sample_size(len(ranked), share_percent, minimum)]
    return tuple(chosen)


def _rank(county: str, month: str, number: str) -> bytes:
    return hashlib.sha256(f"onetrip-callback\n{county}\n{month}\n{number}".encode()).digest()


def month_of(day: dt.date) -> str:
    return f"{day:%Y-%m}"


def previous_month(day: dt.date) -> str:
    """The month before `day`'s: the last whole month, the one a county samples."""
    return month_of(day.replace(day=1) - dt.timedelta(days=1))


def month_days(month: str) -> tuple[dt.date, dt.date]:
    """The first and last day of a month written 2026-11; ValueError if it is not one."""
    if not MONTH.fullmatch(month):
        raise ValueError(f"月份应写作 2026-11 的格式，收到 {month!r}")
    first = dt.date(int(month[:4]), int(month[5:]), 1)
    following = (first + dt.timedelta(days=31)).replace(day=1)
    return first, following - dt.timedelta(days=1)


def outcome_problems(reached: object, satisfied: object, problems: list[str], comment: str) -> list[str]:
    """What is wrong with a call's outcome, in Chinese; empty if it may be recorded."""
    found = []
    if not isinstance(reached, bool):
        found.append("请选择是否接通")
    elif reached and not isinstance(satisfied, bool):
        found.append("接通时请选择群众是否满意")
    elif not reached and (satisfied is not None or problems):
        found.append("未接通时不能记录满意度或问题")
    unknown = [p for p in problems if p not in PROBLEMS]
    if unknown:
        found.append("不认识的问题：" + "、".join(map(str, unknown)))
    if len(set(problems)) != len(problems):
        found.append("同一问题只能选一次")
    if "other" in problems and not comment.strip():
        found.append("选择“其他”时请写明问题")
    if len(comment) > COMMENT_LIMIT:
        found.append(f"回访记录不能超过 {COMMENT_LIMIT} 个字")
    return found


def describe(reached: bool | None, satisfied: bool | None, problems: Iterable[str], tries: int) -> str:
    """A call's outcome as the list shows it."""
    if not tries:
        return "未回访"
    if not reached:
        return f"未接通（{tries} 次）"
    words = "满意" if satisfied else "不满意"
    named = "、".join(PROBLEMS.get(p, p) for p in problems)
    return f"{words}（{named}）" if named else words
