"""Migration 13: how far the parent's clock is from ours, as it last told us."""

from __future__ import annotations

import peewee as pw

from .frozen import add_missing_columns


def apply() -> None:
    add_missing_columns("sync_link", {"clock_offset_ms": pw.BigIntegerField(null=True)})
