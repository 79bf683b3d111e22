"""What one application counts for in the hub's statistics, and how two such counts differ.

Pure: an application's facts in, counters keyed by (day, station, item, bundle) out. The projection stores
what each application last contributed, so a replay of that one application takes back exactly what it
added before adding the new count: the sums stay right whatever order events arrive in, without a scan.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

# Handling time in working days: each bucket holds the decisions taken within its bound (and above the one
# before); the last holds the rest. Most promised limits are 1, 3, 5, 10 or 20 working days.
BUCKETS = (("within_1", 1), ("within_3", 3), ("within_5", 5), ("within_10", 10), ("within_20", 20))
OVER = "over_20"
HISTOGRAM = tuple(name for name, _ in BUCKETS) + (OVER,)
LOW_STARS = 2  # a rating at or below this is a 差评, shown with its comment
COUNTERS = (
    "filed",
    "accepted",
    "decided",
    "on_time",
    "late",
    "handling_days",
    *HISTOGRAM,
    "rated",
    "stars",
    "low_rated",
    "deferred",
    "deferral_supplied",
    "deferral_lapsed",
)

Key = tuple[str, str, str, str]  # (ISO day, station, item code, bundle or "")
Tally = dict[Key, dict[str, int]]


@dataclass(frozen=True)
class Facts:
    """The non-personal facts of an application the statistics are made of."""

    station: str
    item_code: str
    bundle: str | None
    filed_on: dt.date
    accepted_on: dt.date | None = None
    decided_on: dt.date | None = None
    due: dt.date | None = None
    handling_days: int | None = None
    rated_on: dt.date | None = None
    stars: int | None = None
    deferred: bool = False  # accepted with 容缺 (node.rules.deferrals)
    deferral_supplied: bool = False  # everything deferred brought by its last day
    deferral_lapsed: bool = False  # ended for a deferral owed past its last day


def bucket(days: int) -> str:
    return next((name for name, bound in BUCKETS if days <= bound), OVER)


def tally(facts: Facts) -> Tally:
    """Each counter on the day its event happened: a filing on the day filed, a decision on the day decided.
    A decision counts on time or late only against a known due date. A 容缺 case's outcome (supplied on
    time, lapsed) counts on its day of acceptance, beside it, so that a period's 补齐率 is of its own cases."""
    counts: Tally = {}

    def add(day: dt.date, **values: int) -> None:
        row = counts.setdefault((day.isoformat(), facts.station, facts.item_code, facts.bundle or ""), {})
        for name, value in values.items():
            row[name] = row.get(name, 0) + value

    add(facts.filed_on, filed=1)
    if facts.accepted_on is not None:
        add(facts.accepted_on, accepted=1)
        if facts.deferred:  # a cohort by the day of acceptance: 补齐率 reads the cases accepted in a period
            add(
                facts.accepted_on,
                deferred=1,
                deferral_supplied=int(facts.deferral_supplied),
                deferral_lapsed=int(facts.deferral_lapsed),
            )
    if facts.decided_on is not None:
        add(facts.decided_on, decided=1)
        if facts.due is not None:
            add(facts.decided_on, **{"on_time" if facts.decided_on <= facts.due else "late": 1})
        if facts.handling_days is not None:
            add(facts.decided_on, handling_days=facts.handling_days, **{bucket(facts.handling_days): 1})
    if facts.rated_on is not None and facts.stars is not None:
        add(facts.rated_on, rated=1, stars=facts.stars, low_rated=int(facts.stars <= LOW_STARS))
    return counts


def difference(new: Mapping[Key, Mapping[str, int]], old: Mapping[Key, Mapping[str, int]]) -> Tally:
    """What to add to the sums to go from `old` to `new`: only keys and counters that changed."""
    changes: Tally = {}
    for key in new.keys() | old.keys():
        before, after = old.get(key, {}), new.get(key, {})
        delta = {name: after.get(name, 0) - before.get(name, 0) for name in after.keys() | before.keys()}
        delta = {name: value for name, value in delta.items() if value}
        if delta:
            changes[key] = delta
    return changes


@lru_cache(maxsize=1024)
def change(counted: str | None, facts: Facts) -> tuple[Tally, str]:
    """What to add to the sums when an application that counted for `counted` (as stored, `encode`) now has
    these facts, and what it counts for now. Cached: the applications of a batch mostly share their facts
    (one station, a few items, a few days), so a pull of a thousand decisions counts a handful. The tally
    returned is shared between callers: read it, do not change it."""
    counts = tally(facts)
    return difference(counts, decode(counted)), encode(counts)


def encode(counts: Tally) -> str:
    """As stored on the application row: compact, in a stable order."""
    rows = sorted([list(key), dict(sorted(row.items()))] for key, row in counts.items())
    return json.dumps(rows, separators=(",", ":"))


def decode(text: str | None) -> Tally:
    return {tuple(key): row for key, row in json.loads(text or "[]")}
