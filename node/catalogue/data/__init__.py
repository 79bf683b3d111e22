"""Reference data shipped with the code: the seed holiday table and the sample catalogue a node uses
until its county's (or city's) published ones arrive as events (issue 4 and sync)."""

from __future__ import annotations

from functools import cache
from importlib import resources

from node.catalogue.importing import load_json
from node.catalogue.model import Catalogue
from node.rules.holidays import HolidayTable, table_from_json

SEED_HOLIDAYS = "holidays.json"
SAMPLE_CATALOGUE = "catalogue.json"
SECOND_COUNTY_CATALOGUE = "catalogue_gaoping.json"


@cache
def read_seed_holidays() -> HolidayTable:
    """The committed seed table (2004–2026, from `chinese-calendar`); read once, it never changes."""
    return table_from_json(resources.files(__name__).joinpath(SEED_HOLIDAYS).read_bytes())


@cache
def sample_catalogue() -> Catalogue:
    """Our sample catalogue of 顺庆区 (docs/catalogue.md); read once."""
    return load_json(resources.files(__name__).joinpath(SAMPLE_CATALOGUE).read_text("utf-8"))


@cache
def second_county_catalogue() -> Catalogue:
    """A few items of 高坪区, the demo's second county, three of them marked 跨区域通办: what its hub publishes, so
    that the demo's village (in 顺庆区) can file for a resident a case 高坪区 handles."""
    return load_json(resources.files(__name__).joinpath(SECOND_COUNTY_CATALOGUE).read_text("utf-8"))
