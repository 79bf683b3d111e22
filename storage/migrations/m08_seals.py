"""Migration 8: seal orders, seals, their uses and PIN locks, as released."""

from __future__ import annotations

import peewee as pw

from .frozen import Frozen, create


class SealOrder(Frozen):
    seal_id = pw.CharField(max_length=64, primary_key=True)
    station = pw.CharField(max_length=64, index=True)
    kind = pw.CharField(max_length=16)
    name = pw.CharField(max_length=32)
    owner = pw.CharField(max_length=100)
    credit_code = pw.CharField(max_length=18)
    valid_days = pw.IntegerField()
    ordered_by = pw.CharField(max_length=128)
    ordered_at = pw.DateTimeField()
    issued = pw.BooleanField(default=False)

    class Meta:
        table_name = "seal_order"


class Seal(Frozen):
    seal_id = pw.CharField(max_length=64, primary_key=True)
    kind = pw.CharField(max_length=16)
    name = pw.CharField(max_length=32)
    owner = pw.CharField(max_length=100)
    credit_code = pw.CharField(max_length=18)
    station = pw.CharField(max_length=64, index=True)
    installation = pw.CharField(max_length=64, index=True)
    record = pw.BlobField()
    maker_signature = pw.CharField(max_length=128)
    certificate = pw.BlobField()
    valid_from = pw.DateTimeField()
    valid_to = pw.DateTimeField()
    issued_eid = pw.CharField(max_length=64)
    revoked_at = pw.DateTimeField(null=True)
    revoke_reason = pw.TextField(null=True)

    class Meta:
        table_name = "seal"


class SealUse(Frozen):
    use_id = pw.CharField(max_length=64, primary_key=True)
    seal_id = pw.CharField(max_length=64, index=True)
    digest = pw.CharField(max_length=64, index=True)
    number = pw.CharField(max_length=64, index=True)
    document = pw.CharField(max_length=16)
    operator = pw.CharField(max_length=128)
    installation = pw.CharField(max_length=64)
    used_at = pw.DateTimeField()
    eid = pw.CharField(max_length=64)
    received_at = pw.DateTimeField(null=True)
    received_by = pw.CharField(max_length=64, null=True)

    class Meta:
        table_name = "seal_use"


class SealLock(Frozen):
    seal_id = pw.CharField(max_length=64, primary_key=True)
    failures = pw.IntegerField()
    locked_until = pw.DateTimeField(null=True)

    class Meta:
        table_name = "seal_lock"


def apply() -> None:
    create(SealOrder, Seal, SealUse, SealLock)
