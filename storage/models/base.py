"""The base of every table, the schema version table, and the clock rows are stamped by."""

from __future__ import annotations

from datetime import UTC, datetime

import peewee as pw

from ..database import db


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class BaseModel(pw.Model):
    class Meta:
        database = db
        legacy_table_names = False


class SchemaVersion(BaseModel):
    version = pw.IntegerField(primary_key=True)
    name = pw.CharField(max_length=100)
    applied_at = pw.DateTimeField(default=utcnow)  # UTC, naive
