"""The statutory holiday table: which dates are days off and which weekend dates are make-up workdays.

The table is reference data a county or city admin maintains, not a library lookup: the
calendar is announced by the State Council a year at a time, so a node only knows the
years its table covers and says so (`None`) for any other. Pure: JSON text in, values out.

JSON shape (one year per line, so a new year shows as one added line in a diff)::

    {"version":3,"years":{
    "2026":{"days_off":[["2026-01-01","2026-01-03"],["2026-02-15","2026-02-23"],...],
            "workdays":["2026-01-04","2026-02-14",...]}}}

- `version`: a positive integer; a newer table carries a larger one.
- `years`: every year the table covers, even one with no holidays, keyed by its four digits.
- `days_off`: spans `[first, last]` (inclusive ISO dates, both inside that year) of a
  statutory holiday, weekend days inside the span included as announced.
- `workdays`: make-up working days (调休上班), always a Saturday or a Sunday.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from node.errors import DomainError

SATURDAY = 5


class BadHolidayTable(DomainError):
    """A holiday table that does not parse or contradicts itself; `problems` lists every mistake."""

    code = "bad_holiday_table"

    def __init__(self, problems: list[str]):
        super().__init__("节假日表有误：" + "；".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class HolidayTable:
    days_off: frozenset[date]
    workdays: frozenset[date]
    years: frozenset[int]
    version: int

    def covers(self, year: int) -> bool:
        return year in self.years

    def is_working_day(self, day: date) -> bool | None:
        """Whether offices work on `day`; None when the table does not cover its year.

        None rather than a weekday guess, so that the caller decides to fall back on
        weekdays and marks its answer provisional instead of silently trusting it.
        """
        if day.year not in self.years:
            return None
        if day in self.workdays:
            return True
        if day in self.days_off:
            return False
        return day.weekday() < SATURDAY


EMPTY_TABLE = HolidayTable(frozenset(), frozenset(), frozenset(), 0)


def build_table(days_off: Iterable[date], workdays: Iterable[date], years: Iterable[int], version: int) -> HolidayTable:
    """A table from plain dates, refused (every problem at once) if it contradicts itself."""
    table = HolidayTable(frozenset(days_off), frozenset(workdays), frozenset(years), version)
    problems = table_problems(table)
    if problems:
        raise BadHolidayTable(problems)
    return table


def table_problems(table: HolidayTable) -> list[str]:
    """Everything wrong with a table; empty if it is consistent."""
    problems = []
    if isinstance(table.version, bool) or not isinstance(table.version, int) or table.version < 1:
        problems.append(f"版本号应为正整数，收到 {table.version!r}")
    for day in sorted(table.days_off | table.workdays):
        if day.year not in table.years:
            problems.append(f"{day.isoformat()} 所在的 {day.year} 年不在本表覆盖的年份内")
    for day in sorted(table.days_off & table.workdays):
        problems.append(f"{day.isoformat()} 既是放假日又是调休上班日")
    for day in sorted(table.workdays):
        if day.weekday() < SATURDAY:
            problems.append(f"调休上班日 {day.isoformat()} 不是周六或周日")
    return problems


def table_to_json(table: HolidayTable) -> str:
    """The canonical text of a table: sorted, compact, one year per line (the same table, the same bytes)."""
    lines = []
    for year in sorted(table.years):
        entry = {
            "days_off": [[first.isoformat(), last.isoformat()] for first, last in _spans(table.days_off, year)],
            "workdays": sorted(day.isoformat() for day in table.workdays if day.year == year),
        }
        lines.append(f'"{year}":' + json.dumps(entry, separators=(",", ":")))
    return '{"version":' + str(table.version) + ',"years":{\n' + ",\n".join(lines) + "}}\n"


def table_from_json(text: str | bytes) -> HolidayTable:
    """Parse the documented shape; every problem is reported at once, in Chinese, for the admin."""
    try:
        raw = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadHolidayTable([f"不是有效的 JSON：{exc}"]) from exc
    if not isinstance(raw, dict) or set(raw) != {"version", "years"} or not isinstance(raw["years"], dict):
        raise BadHolidayTable(['顶层应为 {"version": 整数, "years": {年份: …}}'])
    problems: list[str] = []
    days_off: set[date] = set()
    workdays: set[date] = set()
    years: set[int] = set()
    for key, entry in raw["years"].items():
        year = _year_of(key, problems)
        if year is None:
            continue
        years.add(year)
        off, work = _parse_year(year, entry, problems)
        days_off |= off
        workdays |= work
    table = HolidayTable(frozenset(days_off), frozenset(workdays), frozenset(years), raw["version"])
    problems += table_problems(table)
    if problems:
        raise BadHolidayTable(problems)
    return table


def _year_of(key: str, problems: list[str]) -> int | None:
    if len(key) == 4 and key.isascii() and key.isdigit():
        return int(key)
    problems.append(f"年份 {key!r} 应为 4 位数字")
    return None


def _parse_year(year: int, entry: object, problems: list[str]) -> tuple[set[date], set[date]]:
    """The days off and make-up workdays listed under one year; mistakes go to `problems`."""
    off: set[date] = set()
    work: set[date] = set()
    if not isinstance(entry, dict) or set(entry) != {"days_off", "workdays"}:
        problems.append(f"{year} 年应只含 days_off 和 workdays 两项")
        return off, work
    for span in _listed(entry["days_off"], f"{year} 年的 days_off", problems):
        if not (isinstance(span, list) and len(span) == 2):
            problems.append(f"{year} 年的放假区间应为 [首日, 末日]，收到 {span!r}")
            continue
        first, last = (_date_in(year, value, problems) for value in span)
        if first and last and first > last:
            problems.append(f"放假区间 {first.isoformat()}–{last.isoformat()} 首日晚于末日")
        elif first and last:
            off |= {first + timedelta(days=i) for i in range((last - first).days + 1)}
    for value in _listed(entry["workdays"], f"{year} 年的 workdays", problems):
        day = _date_in(year, value, problems)
        if day:
            work.add(day)
    return off, work


def _listed(value: object, what: str, problems: list[str]) -> list:
    if isinstance(value, list):
        return value
    problems.append(f"{what} 应为列表")
    return []


def _date_in(year: int, value: object, problems: list[str]) -> date | None:
    try:
        day = date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        day = None
    if day is None:
        problems.append(f"{value!r} 不是 YYYY-MM-DD 格式的日期")
    elif day.year != year:
        problems.append(f"{day.isoformat()} 列在 {year} 年下，但不属于该年")
        day = None
    return day


def _spans(days: frozenset[date], year: int) -> list[tuple[date, date]]:
    """Consecutive runs of the days in one year, so that a nine-day festival is one entry."""
    spans: list[tuple[date, date]] = []
    for day in sorted(d for d in days if d.year == year):
        if spans and spans[-1][1] + timedelta(days=1) == day:
            spans[-1] = (spans[-1][0], day)
        else:
            spans.append((day, day))
    return spans


CALENDAR_DUE = (10, 1)  # from 1 October, next year's table is overdue: 20-day promises cross New Year by then


def next_year_missing(table: HolidayTable, today: date) -> int | None:
    """Next year, if the table lacks it and it is time to have it (from 1 October); else None."""
    if (today.month, today.day) >= CALENDAR_DUE and not table.covers(today.year + 1):
        return today.year + 1
    return None


def year_from_lines(year: int, days_off: str, workdays: str) -> tuple[set[date], set[date], list[str]]:
    """A year typed on the calendar page: days off one span a line ("2027-02-15 至 2027-02-23", or one date),
    make-up workdays one date a line; every mistake named, in Chinese."""
    problems: list[str] = []
    off: set[date] = set()
    for line in filter(None, (raw.strip() for raw in days_off.splitlines())):
        parts = [part.strip() for part in line.replace("～", "至").replace("~", "至").split("至")]
        if len(parts) > 2:
            problems.append(f"“{line}”应为一个日期，或“首日 至 末日”")
            continue
        first = _date_in(year, parts[0], problems)
        last = _date_in(year, parts[-1], problems) if len(parts) == 2 else first
        if first and last and first > last:
            problems.append(f"放假区间 {first.isoformat()} 至 {last.isoformat()} 首日晚于末日")
        elif first and last:
            off |= {first + timedelta(days=i) for i in range((last - first).days + 1)}
    work = {day for line in workdays.splitlines() if line.strip() and (day := _date_in(year, line.strip(), problems))}
    return off, work, problems


def with_year(table: HolidayTable, year: int, days_off: set[date], workdays: set[date]) -> HolidayTable:
    """The table with `year` set to these days (added, or replaced), as a new version; refused if inconsistent."""
    return build_table(
        {day for day in table.days_off if day.year != year} | days_off,
        {day for day in table.workdays if day.year != year} | workdays,
        table.years | {year},
        table.version + 1,
    )


def holiday_summary(table: HolidayTable, year: int) -> tuple[list[tuple[date, date]], list[date]]:
    """A year as a person reads it: its spans of days off and its make-up workdays, in order."""
    return _spans(table.days_off, year), sorted(day for day in table.workdays if day.year == year)
