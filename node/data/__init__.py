"""Reference data shipped with the code: the seed holiday table a node uses until an admin's arrives."""

from __future__ import annotations

from importlib import resources

from node.holidays import HolidayTable, table_from_json

SEED_HOLIDAYS = "holidays.json"


def read_seed_holidays() -> HolidayTable:
    """The committed seed table (2004–2026, from `chinese-calendar`); reads a packaged file."""
    return table_from_json(resources.files(__name__).joinpath(SEED_HOLIDAYS).read_bytes())
