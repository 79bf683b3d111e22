"""Regenerate the seed holiday table `node/catalogue/data/holidays.json` from the `chinese-calendar` package.

Run by a developer, never by a node: `.venv/bin/python -m node.catalogue.data.make_holidays` after
`.venv/bin/pip install chinese-calendar`. The package is not a dependency (it stops at the
last year it knows and raises past it); the committed JSON is what nodes read.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from node.rules.holidays import HolidayTable, build_table, table_to_json

SEED_PATH = Path(__file__).with_name("holidays.json")
SEED_VERSION = 1


def table_from_calendar(holidays: Iterable[date], workdays: Iterable[date], version: int) -> HolidayTable:
    """The table the package's two date sets describe; it covers exactly the years they mention."""
    holidays, workdays = set(holidays), set(workdays)
    years = {day.year for day in holidays | workdays}
    return build_table(holidays, workdays, years, version)


def main() -> int:
    from chinese_calendar import constants  # only here: generating the seed is the one use

    table = table_from_calendar(constants.holidays, constants.workdays, SEED_VERSION)
    text = table_to_json(table)
    SEED_PATH.write_text(text, encoding="utf-8")
    first, last = min(table.years), max(table.years)
    print(f"wrote {SEED_PATH} ({len(text.encode())} bytes, {first}–{last}, version {table.version})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
