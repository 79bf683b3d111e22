"""Migration 22: a 一件事's items filed as one case, each application naming the case's number (its first)."""

from __future__ import annotations

import peewee as pw

from ..database import db
from .frozen import add_missing_columns


def apply() -> None:
    add_missing_columns("application", {"case_number": pw.CharField(max_length=64, null=True)})
    db.execute_sql("CREATE INDEX IF NOT EXISTS application_case_number ON application (case_number)")
