"""Migration 25: what each station below last reported of its release update (node/releases/)."""

from __future__ import annotations

import peewee as pw

from .frozen import add_missing_columns


def apply() -> None:
    add_missing_columns("contact", {"update_state": pw.CharField(max_length=64, null=True)})
