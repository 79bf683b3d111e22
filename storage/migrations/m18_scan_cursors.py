"""Migration 18: where a periodic scan of the event log stopped, by the scan's name (the notices' first)."""

from __future__ import annotations

import peewee as pw

from .frozen import Frozen, create


class ScanCursor(Frozen):
    name = pw.CharField(max_length=32, primary_key=True)
    arrival = pw.BigIntegerField()

    class Meta:
        table_name = "scan_cursor"


def apply() -> None:
    create(ScanCursor)
