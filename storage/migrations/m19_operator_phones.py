"""Migration 19: an operator's mobile number, to which the county sends due-soon and overdue reminders."""

from __future__ import annotations

import peewee as pw

from .frozen import add_missing_columns


def apply() -> None:
    add_missing_columns("operator", {"phone": pw.CharField(max_length=11, null=True)})
