"""Migration 16: each operator's staff number (工号), which papers print beside the real name."""

from __future__ import annotations

import peewee as pw

from .frozen import add_missing_columns


def apply() -> None:
    add_missing_columns("operator", {"staff_no": pw.CharField(max_length=20, null=True)})
