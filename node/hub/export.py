"""A dashboard's table as a CSV file Excel opens (UTF-8 with its mark), no cell read as a formula."""

from __future__ import annotations

import csv
import io

from node.hub.dashboard import Dashboard, Table


def csv_bytes(table: Table, about: list[tuple[str, str]] = ()) -> bytes:
    """UTF-8 with a byte-order mark: Excel on a clerk's PC then reads the Chinese right. `about` (what the
    figures cover: the area, the period, the filters, when) heads the file, a blank line before the table."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if about:
        writer.writerows([_as_text(cell) for cell in pair] for pair in about)
        writer.writerow([])
    writer.writerow(table.headers)
    writer.writerows([_as_text(cell) for cell in row] for row in table.rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _as_text(cell):
    """A text cell a spreadsheet would run as a formula (a resident's rating comment `=HYPERLINK(…)`, say)
    gets a leading apostrophe, which makes it plain text; numbers stay numbers."""
    return "'" + cell if isinstance(cell, str) and cell.startswith(_FORMULA_STARTS) else cell


def coverage(board: Dashboard, names: dict[str, str]) -> list[tuple[str, str]]:
    """What a dashboard's figures cover, in words: the area, the period, each filter set (`names`: the
    chosen station's, department's or item's name by its code), and when they were read."""
    filters = board.filters
    period = f"{filters.since or '最早'} 至 {filters.until or '今日'}" if filters.since or filters.until else "全部"
    chosen = [
        f"{label}：{names.get(value, value)}"
        for label, value in (("站点", filters.station), ("部门", filters.department), ("事项", filters.item))
        if value
    ]
    return [
        ("统计范围", board.area_name),
        ("期间", period),
        ("筛选", "；".join(chosen) or "无"),
        ("截至", f"{board.as_of:%Y-%m-%d %H:%M}（北京时间）"),
    ]
