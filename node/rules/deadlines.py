"""Deadline arithmetic: a time limit in working or calendar days from the day of acceptance.

Pure: dates and a holiday table in, a due date out. Where the table does not cover a year,
weekdays stand in and the answer says it is provisional, so that it is recomputed when the
admin's table arrives; nothing here raises for a year it does not know.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from node.errors import DomainError
from node.rules.holidays import SATURDAY, HolidayTable

Unit = Literal["working", "calendar"]
Status = Literal["on_time", "due_soon", "overdue"]
UNITS = ("working", "calendar")
ONE_DAY = timedelta(days=1)


class BadTimeLimit(DomainError):
    """A time limit that cannot be counted (negative, an unknown unit, a pause ending before it starts)."""

    code = "bad_time_limit"


@dataclass(frozen=True)
class Deadline:
    due: date
    provisional: bool  # some day was judged by weekday alone: recompute when the holiday table arrives


def working_day(day: date, table: HolidayTable) -> tuple[bool, bool]:
    """(whether `day` is a working day, whether that is only a weekday guess for an uncovered year)."""
    known = table.is_working_day(day)
    if known is None:
        return day.weekday() < SATURDAY, True
    return known, False


def add_working_days(
    start: date,
    n: int,
    table: HolidayTable,
    unit: Unit = "working",
    pauses: Iterable[tuple[date, date]] = (),
) -> Deadline:
    """The last day of a time limit of `n` days that starts on `start`, the day of acceptance.

    The day of acceptance does not count: counting starts the next day (行政许可法 第八十二条
    counts working days; 民法典 第二百零一条 excludes the first day). Accepting on a make-up
    Saturday is fine, it is a working day; it is still day zero.
    - "working": the due date is the n-th working day after `start`.
    - "calendar": the n-th day after `start`; when that is a day off, the limit runs to the
      next working day (民法典 第二百零三条), so a due date is always a day the office is open.
    - pauses: inclusive (first, last) ranges during which the clock stops (补正 awaited,
      听证, 检验, 鉴定): their days do not count, and a due date never falls inside one.
      For a pause still running, pass today as its last day and recompute later.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise BadTimeLimit(f"期限天数应为非负整数，收到 {n!r}")
    if unit not in UNITS:
        raise BadTimeLimit(f"期限单位应为工作日（working）或自然日（calendar），收到 {unit!r}")
    stops = _pause_days(pauses)
    day, counted, provisional = start, 0, False
    while counted < n:
        day += ONE_DAY
        if day in stops:
            continue
        works, guessed = working_day(day, table)
        if unit == "working":
            provisional |= guessed
        if unit == "calendar" or works:
            counted += 1
    if unit == "calendar" and n > 0:
        day, guessed = _next_open_day(day, table, stops)
        provisional |= guessed
    return Deadline(day, provisional)


def _next_open_day(day: date, table: HolidayTable, stops: frozenset[date]) -> tuple[date, bool]:
    """`day` itself if the office works and the clock runs then, else the first such day after it."""
    provisional = False
    while True:
        works, guessed = working_day(day, table)
        provisional |= guessed
        if works and day not in stops:
            return day, provisional
        day += ONE_DAY


def _pause_days(pauses: Iterable[tuple[date, date]]) -> frozenset[date]:
    days: set[date] = set()
    for first, last in pauses:
        if last < first:
            raise BadTimeLimit(f"暂停区间 {first.isoformat()}–{last.isoformat()} 的结束早于开始")
        days |= {first + timedelta(days=i) for i in range((last - first).days + 1)}
    return frozenset(days)


def working_days_between(start: date, end: date, table: HolidayTable, pauses: Iterable[tuple[date, date]] = ()) -> int:
    """How long a case took in working days: those after `start` (the day of acceptance, day zero) up to and
    including `end`, the clock's stopped days left out; the same count a deadline is promised in."""
    stops = _pause_days(pauses)
    days, day = 0, start
    while day < end:
        day += ONE_DAY
        days += day not in stops and working_day(day, table)[0]
    return days


def working_days_left(due: date, today: date, table: HolidayTable) -> int:
    """How many working days remain after `today` up to and including `due` (0 on the due date)."""
    left, day = 0, today
    while day < due:
        day += ONE_DAY
        left += working_day(day, table)[0]
    return left


def status(due: date, today: date, table: HolidayTable, warn_days: int = 3) -> Status:
    """Where a deadline stands on `today`: overdue once `due` has passed; due soon when at most
    `warn_days` working days remain (the due date itself included), so a weekend or a
    festival between now and then does not hide how close it is."""
    if today > due:
        return "overdue"
    if working_days_left(due, today, table) <= warn_days:
        return "due_soon"
    return "on_time"


# 行政许可法 第三十二条: corrections not asked within five days of receipt mean the application was accepted
# on receipt. Counted here in working days, the way every other limit of a window is counted.
DEEMED_ACCEPTANCE_DAYS = 5


def deemed_accepted(filed_on: date, today: date, table: HolidayTable) -> bool:
    """Whether an application still waiting for 受理 is past the days in which corrections could be asked:
    the law then deems it accepted on the day of receipt, and its page says so."""
    return working_days_between(filed_on, today, table) > DEEMED_ACCEPTANCE_DAYS
