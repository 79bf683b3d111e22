"""What a dashboard is asked for: the area a viewer may see, the filters read from a page's query
(each checked, a wrong one named in Chinese and dropped), and the query conditions they add.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace

import peewee as pw

from node.catalogue.model import Catalogue
from provisioning.region import area_prefix
from storage.models import (
    Operator,
    Station,
)

HUBS = ("county", "city")


VIEWERS = ("admin", "clerk")


@dataclass(frozen=True)
class Filters:
    county: str = ""  # a city's board narrowed to one of its counties (its six-digit division code)
    station: str = ""
    department: str = ""
    item: str = ""
    since: dt.date | None = None
    until: dt.date | None = None

    def as_args(self) -> dict[str, str]:
        """As query-string arguments, for links that keep the filters (CSV, charts)."""
        values = {
            "county": self.county,
            "station": self.station,
            "department": self.department,
            "item": self.item,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
        }
        return {name: value for name, value in values.items() if value}


def area_for(level: str, region: str, operator: Operator) -> str | None:
    """The prefix of the station codes a person may see on this hub's dashboard: their own station's
    division (a county admin sees their county, the city's people the whole city), or None."""
    if level not in HUBS or operator.role not in VIEWERS:
        return None
    station = Station.get_or_none(Station.code == operator.station)
    own = area_prefix(station.region) if station is not None else ""
    mine = area_prefix(region)
    return own if own.startswith(mine) else None


def read_filters(args: Mapping[str, str], area: str, items: Mapping[str, tuple[str, str, str]]) -> tuple[Filters, list]:
    """The filters a query string asks for; anything that does not read, or lies outside the area, is left
    out with a message saying so, so a mistyped link shows the whole area rather than an error."""
    problems, values = [], {}
    county = args.get("county", "").strip()
    if county and not (len(county) == 6 and county.isdigit() and county.startswith(area) and county != area):
        problems.append(f"区划 {county} 不是本市辖区内的县（区），已忽略")
    elif county:
        values["county"] = area = county
    station = args.get("station", "").strip()
    if station and not (station.startswith(area) and Station.get_or_none(Station.code == station)):
        problems.append(f"站点 {station} 不在本辖区，已忽略")
    elif station:
        values["station"] = station
    department = args.get("department", "").strip()
    if department and department not in dict(departments(items)):
        problems.append(f"部门 {department} 不在事项清单中，已忽略")
    elif department:
        values["department"] = department
    item = args.get("item", "").strip()
    if item and item not in items:
        problems.append(f"事项 {item} 不在事项清单中，已忽略")
    elif item:
        values["item"] = item
    for name, label in (("since", "起始日期"), ("until", "截止日期")):
        text = args.get(name, "").strip()
        try:
            values[name] = dt.date.fromisoformat(text) if text else None
        except ValueError:
            problems.append(f"{label} {text} 不是有效日期（应为 2026-01-31 的格式），已忽略")
    filters = Filters(**values)
    if filters.since and filters.until and filters.since > filters.until:
        problems.append("起始日期晚于截止日期，已忽略日期")
        filters = replace(filters, since=None, until=None)
    return filters, problems


def known_items(catalogues: list[Catalogue]) -> dict[str, tuple[str, str, str]]:
    """Item code -> (name, department code, department name), the nearer catalogue's names first."""
    items: dict[str, tuple[str, str, str]] = {}
    for catalogue in reversed(catalogues):
        for item in catalogue.current():
            items[item.code] = (item.name, item.department_code, item.department)
    return items


def departments(items: Mapping[str, tuple[str, str, str]]) -> list[tuple[str, str]]:
    """(department code, name) of every department that has an item, in code order."""
    return sorted({(code, name) for _, code, name in items.values()})


def bundle_names(catalogues: list[Catalogue]) -> dict[str, str]:
    return {code: b.name for catalogue in reversed(catalogues) for code, b in catalogue.bundles.items()}


def in_area(column: pw.Field, area: str, filters: Filters):
    """Station codes inside the area by a range an index serves (a station filter: that one)."""
    if filters.station:
        return column == filters.station
    return (column >= area) & (column < area + "~")


def narrowed(query, filters: Filters, item: pw.Field, day: pw.Field | None = None):
    """The query kept to the filters' item or department and, on `day`, to their period."""
    if filters.item:
        query = query.where(item == filters.item)
    elif filters.department:
        query = query.where((item >= filters.department + "-") & (item < filters.department + "-~"))
    if day is not None and filters.since:
        query = query.where(day >= filters.since)
    if day is not None and filters.until:
        query = query.where(day <= filters.until)
    return query
