"""Migration 24: at a city hub, each application's record as last forwarded to the province (and as it is now)."""

from __future__ import annotations

import peewee as pw

from .frozen import Frozen, create


class ProvinceRecord(Frozen):
    number = pw.CharField(max_length=64, primary_key=True)
    filed_on = pw.DateField(index=True)
    digest = pw.CharField(max_length=64)
    sent_digest = pw.CharField(max_length=64, null=True)
    attempts = pw.IntegerField(default=0)
    due_ms = pw.BigIntegerField(index=True)
    waiting_since_ms = pw.BigIntegerField(null=True)
    sent_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "province_record"


def apply() -> None:
    create(ProvinceRecord)
