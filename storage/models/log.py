"""The event log: every event stored, the deps it waits for, stream heads, signed heads, and the wrapped
data keys of entities. Signed payloads are kept as the exact bytes received, never re-serialised."""

from __future__ import annotations

import peewee as pw

from .base import BaseModel, utcnow


class EventRecord(BaseModel):
    """Every event this node stores, numbered in arrival order (the link cursors' unit)."""

    arrival = pw.BigAutoField()
    eid = pw.CharField(max_length=64, unique=True)
    origin = pw.CharField(max_length=128)
    stream = pw.CharField(max_length=128)
    seq = pw.BigIntegerField()
    hlc = pw.BigIntegerField()  # indexed with origin: a restart finds its own latest timestamp at once
    type = pw.CharField(max_length=128)
    entity = pw.CharField(max_length=128, index=True)
    body = pw.BlobField()
    chain = pw.CharField(max_length=64)
    status = pw.CharField(max_length=16)  # indexed only where it is not `applied` (`unsettled`)
    reason = pw.TextField(null=True)
    received_at = pw.DateTimeField(default=utcnow, constraints=[pw.SQL("DEFAULT CURRENT_TIMESTAMP")])

    class Meta:
        table_name = "event"
        # (stream, arrival): a child's pull reads its streams after its cursor (`storage.events.in_streams`)
        indexes = ((("origin", "stream", "seq"), True), (("origin", "hlc"), False), (("stream", "arrival"), False))


APPLIED = "applied"  # sync.log's name for it; storage cannot import sync
# Almost every event is applied: an index of every status cost each insert its upkeep and served no query
# (one by status `applied` goes by entity). The few others are what queries look for by status.
EventRecord.add_index(
    EventRecord.index(EventRecord.status, name="event_unsettled").where(EventRecord.status != APPLIED)
)


def unsettled(status: str) -> pw.Expression:
    """`event.status = status` for a status other than applied, in words that let SQLite use `event_unsettled`:
    it takes a partial index only for a query that repeats the index's condition."""
    return (EventRecord.status != APPLIED) & (EventRecord.status == status)


class PendingDep(BaseModel):
    """An event waiting for one of its deps; found by the dep's eid when it arrives."""

    event = pw.ForeignKeyField(EventRecord, on_delete="CASCADE")
    dep = pw.CharField(max_length=64, index=True)

    class Meta:
        primary_key = pw.CompositeKey("event", "dep")


class StreamHead(BaseModel):
    """The anti-entropy digest: for each stream held, its last seq and chain hash."""

    origin = pw.CharField(max_length=128)
    stream = pw.CharField(max_length=128)
    seq = pw.BigIntegerField()
    chain = pw.CharField(max_length=64)

    class Meta:
        primary_key = pw.CompositeKey("origin", "stream")


class SignedHeadRecord(BaseModel):
    """Signed heads as received or made; batches are cut at these."""

    origin = pw.CharField(max_length=128)
    stream = pw.CharField(max_length=128)
    seq = pw.BigIntegerField()
    chain = pw.CharField(max_length=64)
    body = pw.BlobField()
    signature = pw.BlobField()

    class Meta:
        table_name = "signed_head"
        primary_key = pw.CompositeKey("origin", "stream", "seq")


class DataKey(BaseModel):
    """A per-entity data key wrapped to one recipient; deleting the row shreds the fields here."""

    entity = pw.CharField(max_length=128)
    recipient = pw.CharField(max_length=128)
    wrapped = pw.BlobField()

    class Meta:
        primary_key = pw.CompositeKey("entity", "recipient")
