"""Migration 17: the county hub's outbox of SMS notices, one row per notice, sent or not."""

from __future__ import annotations

import peewee as pw

from .frozen import Frozen, create


class Notice(Frozen):
    notice_id = pw.CharField(max_length=32, primary_key=True)
    number = pw.CharField(max_length=64, index=True)
    kind = pw.CharField(max_length=16)
    text = pw.TextField()
    arrival = pw.BigIntegerField(index=True)  # of the event that made it: where the next scan starts
    due_ms = pw.BigIntegerField()
    attempts = pw.IntegerField(default=0)
    sent_at = pw.DateTimeField(null=True)
    message_id = pw.CharField(max_length=64, null=True)
    status = pw.CharField(max_length=32, null=True)

    class Meta:
        table_name = "notice"


def apply() -> None:
    create(Notice)
