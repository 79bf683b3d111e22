"""Times as people here read them: Beijing time, to the minute. The node keeps and sends UTC; only the pages
convert, so a clerk never has to add eight hours in their head."""

from __future__ import annotations

import datetime as dt

from provisioning.region import CHINA


def beijing(value: dt.datetime | str | None, seconds: bool = False) -> str:
    """A UTC time (a datetime, naive meaning UTC, or its ISO text) as "2026-12-05 00:44" in Beijing time;
    "—" for none. Text that is not a time is shown as it is rather than hidden."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
