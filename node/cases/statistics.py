"""The hub's statistics as stored: counters added to as events are applied, summed for a dashboard.

Adding runs inside the event's transaction (and savepoint), so a refused event leaves the sums as they were.
"""

from __future__ import annotations

from functools import lru_cache

from node.rules.tally import COUNTERS, Tally
from storage.database import db
from storage.models import Statistic, add_amounts, table_name

KEY = ("day", "station", "item_code", "bundle")


@lru_cache(maxsize=4)
def _add_sql(param: str) -> str:
    """One statement both engines run: insert the key's row or add to the one there."""
    table = table_name(Statistic)
    columns = (*KEY, *COUNTERS)
    added = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in COUNTERS)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([param] * len(columns))}) "
        f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET {added}"
    )


def add_counts(changes: Tally) -> None:
    """Add each key's counters (negative ones take back); a prepared statement per key, no read first,
    summed over a run of events when it is applied at once (`add_amounts`)."""
    sql = _add_sql(db.param)
    for key, counts in changes.items():
        add_amounts(sql, key, tuple(counts.get(name, 0) for name in COUNTERS))
