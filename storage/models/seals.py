"""Electronic seals: orders at the county, the seals known, every use, and PIN lockouts."""

from __future__ import annotations

import peewee as pw

from .base import BaseModel, utcnow


class SealOrder(BaseModel):
    """At the county: a seal ordered for a station, waiting for the holder's key (its request)."""

    seal_id = pw.CharField(max_length=64, primary_key=True)
    station = pw.CharField(max_length=64, index=True)
    kind = pw.CharField(max_length=16)
    name = pw.CharField(max_length=32)
    owner = pw.CharField(max_length=100)
    credit_code = pw.CharField(max_length=18)
    valid_days = pw.IntegerField()
    ordered_by = pw.CharField(max_length=128)
    ordered_at = pw.DateTimeField(default=utcnow)  # UTC
    issued = pw.BooleanField(default=False)


class Seal(BaseModel):
    """Projection of `seal.issued` and `seal.revoked`: every seal this node knows, with its exact record."""

    seal_id = pw.CharField(max_length=64, primary_key=True)
    kind = pw.CharField(max_length=16)
    name = pw.CharField(max_length=32)
    owner = pw.CharField(max_length=100)
    credit_code = pw.CharField(max_length=18)
    station = pw.CharField(max_length=64, index=True)
    installation = pw.CharField(max_length=64, index=True)
    record = pw.BlobField()  # canonical bytes as the county signed them
    maker_signature = pw.CharField(max_length=128)  # hex r||s by the county's CA key
    certificate = pw.BlobField()  # DER of the seal certificate
    valid_from = pw.DateTimeField()  # UTC
    valid_to = pw.DateTimeField()  # UTC
    issued_eid = pw.CharField(max_length=64)  # what a use's event depends on
    revoked_at = pw.DateTimeField(null=True)  # UTC, from the revocation event's HLC
    revoke_reason = pw.TextField(null=True)


class SealUse(BaseModel):
    """Projection of `seal.used`: the log of every use of a seal (用印记录)."""

    use_id = pw.CharField(max_length=64, primary_key=True)
    seal_id = pw.CharField(max_length=64, index=True)
    digest = pw.CharField(max_length=64, index=True)  # of the document before it was stamped
    number = pw.CharField(max_length=64, index=True)
    document = pw.CharField(max_length=16)
    operator = pw.CharField(max_length=128)
    installation = pw.CharField(max_length=64)
    used_at = pw.DateTimeField()  # UTC, the node's clock when sealing
    eid = pw.CharField(max_length=64)
    received_at = pw.DateTimeField(null=True)  # UTC, when the county first held the use, as it signed
    received_by = pw.CharField(max_length=64, null=True)  # that county's station


class SealLock(BaseModel):
    """Local: wrong PINs in a row for a seal held here, and until when it is locked after too many."""

    seal_id = pw.CharField(max_length=64, primary_key=True)
    failures = pw.IntegerField()
    locked_until = pw.DateTimeField(null=True)  # UTC
