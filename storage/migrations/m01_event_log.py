"""Migration 1: the event log, as released (its status index was narrowed by migration 11)."""

from __future__ import annotations

import peewee as pw

from .frozen import Frozen, create


class Event(Frozen):
    arrival = pw.BigAutoField()
    eid = pw.CharField(max_length=64, unique=True)
    origin = pw.CharField(max_length=128)
    stream = pw.CharField(max_length=128)
    seq = pw.BigIntegerField()
    hlc = pw.BigIntegerField()
    type = pw.CharField(max_length=128)
    entity = pw.CharField(max_length=128, index=True)
    body = pw.BlobField()
    chain = pw.CharField(max_length=64)
    status = pw.CharField(max_length=16, index=True)
    reason = pw.TextField(null=True)
    received_at = pw.DateTimeField(constraints=[pw.SQL("DEFAULT CURRENT_TIMESTAMP")])

    class Meta:
        table_name = "event"
        indexes = ((("origin", "stream", "seq"), True), (("origin", "hlc"), False))


class PendingDep(Frozen):
    event = pw.ForeignKeyField(Event, on_delete="CASCADE")
    dep = pw.CharField(max_length=64, index=True)

    class Meta:
        table_name = "pending_dep"
        primary_key = pw.CompositeKey("event", "dep")


class StreamHead(Frozen):
    origin = pw.CharField(max_length=128)
    stream = pw.CharField(max_length=128)
    seq = pw.BigIntegerField()
    chain = pw.CharField(max_length=64)

    class Meta:
        table_name = "stream_head"
        primary_key = pw.CompositeKey("origin", "stream")


class SignedHead(Frozen):
    origin = pw.CharField(max_length=128)
    stream = pw.CharField(max_length=128)
    seq = pw.BigIntegerField()
    chain = pw.CharField(max_length=64)
    body = pw.BlobField()
    signature = pw.BlobField()

    class Meta:
        table_name = "signed_head"
        primary_key = pw.CompositeKey("origin", "stream", "seq")


def apply() -> None:
    create(Event, PendingDep, StreamHead, SignedHead)
