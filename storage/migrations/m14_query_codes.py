"""Migration 14: what the public query page finds an application by (its query code, the ID tail's check)
and the one personal thing it shows (the masked name). Applications filed before have none of them."""

from __future__ import annotations

import peewee as pw

from ..database import db
from .frozen import add_missing_columns


def apply() -> None:
    add_missing_columns(
        "application",
        {
            "query_code": pw.CharField(max_length=16, null=True),
            "id_tail_check": pw.CharField(max_length=64, null=True),
            "masked_name": pw.CharField(max_length=50, null=True),
        },
    )
    db.execute_sql("CREATE UNIQUE INDEX IF NOT EXISTS application_query_code ON application (query_code)")
