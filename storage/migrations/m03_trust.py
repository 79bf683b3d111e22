"""Migration 3: registrations, certificates, trust anchors, revocations, audit, as released."""

from __future__ import annotations

import peewee as pw

from .frozen import Frozen, create


class Registration(Frozen):
    station = pw.CharField(max_length=64, primary_key=True)
    name = pw.CharField(max_length=200)
    level = pw.CharField(max_length=16)
    region = pw.CharField(max_length=12)
    parent = pw.CharField(max_length=64, null=True)
    parent_url = pw.CharField(max_length=300, null=True)
    code_hash = pw.CharField(max_length=64, null=True, unique=True)
    code_expires_at = pw.DateTimeField(null=True)
    enrolled_installation = pw.CharField(max_length=64, null=True)
    first_admin_hash = pw.CharField(max_length=256, null=True)
    previous_installation = pw.CharField(max_length=64, null=True)
    created_at = pw.DateTimeField()

    class Meta:
        table_name = "registration"


class Certificate(Frozen):
    serial = pw.CharField(max_length=64, primary_key=True)
    fingerprint = pw.CharField(max_length=64, unique=True)
    installation = pw.CharField(max_length=64, index=True)
    station = pw.CharField(max_length=64, index=True)
    use = pw.CharField(max_length=16)
    der = pw.BlobField()
    not_after = pw.DateTimeField()

    class Meta:
        table_name = "certificate"


class TrustAnchor(Frozen):
    fingerprint = pw.CharField(max_length=64, primary_key=True)
    der = pw.BlobField()
    from_event = pw.BooleanField(default=False)

    class Meta:
        table_name = "trust_anchor"


class Revocation(Frozen):
    installation = pw.CharField(max_length=64)
    stream = pw.CharField(max_length=128)
    last_seq = pw.BigIntegerField()
    last_chain = pw.CharField(max_length=64, null=True)

    class Meta:
        table_name = "revocation"
        primary_key = pw.CompositeKey("installation", "stream")


class AuditEntry(Frozen):
    id = pw.AutoField()
    at = pw.DateTimeField()
    actor = pw.CharField(max_length=128)
    action = pw.CharField(max_length=64)
    subject = pw.CharField(max_length=128, null=True)
    outcome = pw.CharField(max_length=16)
    detail = pw.TextField(null=True)

    class Meta:
        table_name = "audit_entry"


def apply() -> None:
    create(Registration, Certificate, TrustAnchor, Revocation, AuditEntry)
