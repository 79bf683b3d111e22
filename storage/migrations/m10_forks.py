"""Migration 10: fork evidence, as released."""

from __future__ import annotations

import peewee as pw

from .frozen import Frozen, create


class ForkEvidence(Frozen):
    origin = pw.CharField(max_length=128, index=True)
    stream = pw.CharField(max_length=128)
    seq = pw.BigIntegerField()
    held_eid = pw.CharField(max_length=64)
    other_eid = pw.CharField(max_length=64)
    other_body = pw.BlobField()
    head_body = pw.BlobField()
    head_signature = pw.BlobField()
    found_at = pw.DateTimeField()

    class Meta:
        table_name = "fork_evidence"
        primary_key = pw.CompositeKey("origin", "stream", "seq", "other_eid")


def apply() -> None:
    create(ForkEvidence)
