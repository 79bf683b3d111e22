"""Migration 23: 跨区域通办, each application naming the county that handles it when that is not its own."""

from __future__ import annotations

import peewee as pw

from ..database import db
from .frozen import add_missing_columns


def apply() -> None:
    add_missing_columns("application", {"handler": pw.CharField(max_length=16, null=True)})
    db.execute_sql("CREATE INDEX IF NOT EXISTS application_handler ON application (handler)")
