"""Migration 5: applications and their material scans, as released (the index of applications by station
alone was dropped by migration 11; statistics' columns and the rating's index came with migration 9; the
queue's index with migration 6)."""

from __future__ import annotations

import peewee as pw

from .frozen import Frozen, create


class Application(Frozen):
    number = pw.CharField(max_length=64, primary_key=True)
    station = pw.CharField(max_length=64, index=True)
    item_code = pw.CharField(max_length=32)
    item_version = pw.IntegerField()
    bundle = pw.CharField(max_length=64, null=True)
    state = pw.CharField(max_length=32, index=True)
    sealed = pw.TextField()
    id_lookup = pw.CharField(max_length=64, index=True)
    name_lookup = pw.CharField(max_length=64, index=True)
    masked_id = pw.CharField(max_length=18)
    request_token = pw.CharField(max_length=64)
    filed_by = pw.CharField(max_length=64)
    filed_on = pw.DateField()
    accepted_on = pw.DateField(null=True)
    paused_since = pw.DateField(null=True)
    pauses = pw.TextField(default="[]")
    due = pw.DateField(null=True, index=True)
    due_provisional = pw.BooleanField(default=False)
    decision_reason = pw.TextField(null=True)
    rating = pw.IntegerField(null=True)
    rating_comment = pw.TextField(null=True)

    class Meta:
        table_name = "application"
        indexes = ((("station", "request_token"), True), (("station", "filed_on", "number"), False))


class Attachment(Frozen):
    number = pw.CharField(max_length=64, index=True)
    material = pw.CharField(max_length=64)
    blob = pw.CharField(max_length=64)
    content_type = pw.CharField(max_length=64)
    size = pw.IntegerField()
    by = pw.CharField(max_length=64)

    class Meta:
        table_name = "attachment"
        primary_key = pw.CompositeKey("number", "blob")


def apply() -> None:
    create(Application, Attachment)
