"""Migration 12: session epochs of local credentials. Sessions made before carry no epoch and end at once."""

from __future__ import annotations

import peewee as pw

from .frozen import add_missing_columns


def apply() -> None:
    add_missing_columns("credential", {"session_epoch": pw.IntegerField(default=0)})
