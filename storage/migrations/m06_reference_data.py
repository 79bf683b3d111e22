"""Migration 6: published catalogues and holiday tables, deadline marks, the queue's index, as released."""

from __future__ import annotations

import peewee as pw

from ..database import db
from .frozen import Frozen, create


class ReferenceData(Frozen):
    kind = pw.CharField(max_length=16)
    publisher = pw.CharField(max_length=64)
    region = pw.CharField(max_length=12)
    version = pw.IntegerField()
    body = pw.TextField()
    eid = pw.CharField(max_length=64)

    class Meta:
        table_name = "reference_data"
        primary_key = pw.CompositeKey("kind", "publisher", "version")


class DeadlineMark(Frozen):
    number = pw.CharField(max_length=64, primary_key=True)
    status = pw.CharField(max_length=16, index=True)
    since = pw.DateField()

    class Meta:
        table_name = "deadline_mark"


def apply() -> None:
    create(ReferenceData, DeadlineMark)
    # The queue's order, newest first, walked page by page (`node.cases.intake.search`).
    db.execute_sql("CREATE INDEX IF NOT EXISTS application_filed_on_number ON application (filed_on, number)")
