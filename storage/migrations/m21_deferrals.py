"""Migration 21: 容缺受理. On the application, what a case accepted with 容缺 still owes and by when (the queue's
容缺待补 filter reads `deferral_owed`, its overdue warning `deferral_due`); in the statistics, the deferred
cases and those supplied on time or ended for a lapsed deferral. Cases accepted before have no deferral."""

from __future__ import annotations

import peewee as pw

from ..database import db
from .frozen import add_missing_columns


def apply() -> None:
    add_missing_columns(
        "application",
        {
            "deferral": pw.TextField(null=True),
            "deferral_due": pw.DateField(null=True),
            "deferral_owed": pw.IntegerField(default=0),
        },
    )
    db.execute_sql("CREATE INDEX IF NOT EXISTS application_deferral_due ON application (deferral_due)")
    add_missing_columns(
        "statistic",
        {
            "deferred": pw.IntegerField(default=0),
            "deferral_supplied": pw.IntegerField(default=0),
            "deferral_lapsed": pw.IntegerField(default=0),
        },
    )
