"""Migration 9: application statistics, dates and tallies; children's last contact, as released.

Counters start empty: `onetrip rebuild` counts the applications a node held before this migration.
"""

from __future__ import annotations

import peewee as pw

from ..database import db
from .frozen import Frozen, add_missing_columns, create


class Statistic(Frozen):
    day = pw.DateField()
    station = pw.CharField(max_length=64)
    item_code = pw.CharField(max_length=32)
    bundle = pw.CharField(max_length=64)
    filed = pw.IntegerField(default=0)
    accepted = pw.IntegerField(default=0)
    decided = pw.IntegerField(default=0)
    on_time = pw.IntegerField(default=0)
    late = pw.IntegerField(default=0)
    handling_days = pw.IntegerField(default=0)
    within_1 = pw.IntegerField(default=0)
    within_3 = pw.IntegerField(default=0)
    within_5 = pw.IntegerField(default=0)
    within_10 = pw.IntegerField(default=0)
    within_20 = pw.IntegerField(default=0)
    over_20 = pw.IntegerField(default=0)
    rated = pw.IntegerField(default=0)
    stars = pw.IntegerField(default=0)
    low_rated = pw.IntegerField(default=0)

    class Meta:
        table_name = "statistic"
        primary_key = pw.CompositeKey("day", "station", "item_code", "bundle")


class Contact(Frozen):
    station = pw.CharField(max_length=64, primary_key=True)
    installation = pw.CharField(max_length=64)
    at = pw.DateTimeField()
    clock_offset_ms = pw.BigIntegerField(null=True)
    version = pw.CharField(max_length=32, null=True)
    pending_events = pw.IntegerField(null=True)
    oldest_unsent_s = pw.IntegerField(null=True)
    via = pw.CharField(max_length=64, null=True)

    class Meta:
        table_name = "contact"


def apply() -> None:
    add_missing_columns(
        "application",
        {
            "decided_on": pw.DateField(null=True),
            "delivered_on": pw.DateField(null=True),
            "rated_on": pw.DateField(null=True),
            "handling_days": pw.IntegerField(null=True),
            "tally": pw.TextField(default="[]"),
        },
    )
    db.execute_sql("CREATE INDEX IF NOT EXISTS application_rating ON application (rating)")
    create(Statistic, Contact)
