"""Stations, installations and trust: registrations, certificates, anchors, revocations, replacements,
operator accounts and their local credentials, the audit trail."""

from __future__ import annotations

import peewee as pw

from .base import BaseModel, utcnow


class Station(BaseModel):
    """Projection: stations this node knows of."""

    code = pw.CharField(max_length=64, primary_key=True)
    name = pw.CharField(max_length=200)
    level = pw.CharField(max_length=16)
    region = pw.CharField(max_length=12)
    parent = pw.CharField(max_length=64, null=True)


class Installation(BaseModel):
    """Projection: installations (one PC's keys) serving a station."""

    id = pw.CharField(max_length=64, primary_key=True)
    station = pw.CharField(max_length=64, index=True)
    algorithm = pw.CharField(max_length=32)
    signing_key = pw.BlobField()
    agreement_key = pw.BlobField()
    created_hlc = pw.BigIntegerField()


class Registration(BaseModel):
    """Hub-local: a station registered here and its one-time enrolment code (kept as a hash only)."""

    station = pw.CharField(max_length=64, primary_key=True)
    name = pw.CharField(max_length=200)
    level = pw.CharField(max_length=16)
    region = pw.CharField(max_length=12)
    parent = pw.CharField(max_length=64, null=True)
    parent_url = pw.CharField(max_length=300, null=True)
    code_hash = pw.CharField(max_length=64, null=True, unique=True)
    code_expires_at = pw.DateTimeField(null=True)  # UTC
    enrolled_installation = pw.CharField(max_length=64, null=True)
    first_admin_hash = pw.CharField(max_length=256, null=True)  # the station's first admin, until enrolled
    previous_installation = pw.CharField(max_length=64, null=True)  # a replaced PC, linked at the next enrolment
    created_at = pw.DateTimeField(default=utcnow)


class Certificate(BaseModel):
    """Projection of `trust.certified` events: every certificate this node knows."""

    serial = pw.CharField(max_length=64, primary_key=True)
    fingerprint = pw.CharField(max_length=64, unique=True)
    installation = pw.CharField(max_length=64, index=True)
    station = pw.CharField(max_length=64, index=True)
    use = pw.CharField(max_length=16)
    der = pw.BlobField()
    not_after = pw.DateTimeField()  # UTC


class TrustAnchor(BaseModel):
    """Root certificates this node trusts: the first from enrolment, later ones by signed rotation."""

    fingerprint = pw.CharField(max_length=64, primary_key=True)
    der = pw.BlobField()
    from_event = pw.BooleanField(default=False)  # False: installed at enrolment or init, not by a rotation


class Revocation(BaseModel):
    """Projection of `trust.revoked`: per stream, the last seq the county still vouches for."""

    installation = pw.CharField(max_length=64)
    stream = pw.CharField(max_length=128)  # "*" for every stream not named
    last_seq = pw.BigIntegerField()
    last_chain = pw.CharField(max_length=64, null=True)  # the chain hash at last_seq: a thief's other history fails

    class Meta:
        primary_key = pw.CompositeKey("installation", "stream")


class AuditEntry(BaseModel):
    """Every admin action and every refused provisioning request, for the county's audit trail."""

    id = pw.AutoField()
    at = pw.DateTimeField(default=utcnow)
    actor = pw.CharField(max_length=128)
    action = pw.CharField(max_length=64)
    subject = pw.CharField(max_length=128, null=True)
    outcome = pw.CharField(max_length=16)  # ok | refused
    detail = pw.TextField(null=True)


class Operator(BaseModel):
    """Projection: an operator account of a station (代办员, 窗口人员, 管理员) and whether it may log in."""

    username = pw.CharField(max_length=64, primary_key=True)
    station = pw.CharField(max_length=64, index=True)
    name = pw.CharField(max_length=100)
    role = pw.CharField(max_length=16)  # agent | clerk | admin
    staff_no = pw.CharField(max_length=20, null=True)  # 工号: papers print it beside the name, never the login
    phone = pw.CharField(max_length=11, null=True)  # a work mobile: the county's due-soon and overdue reminders
    disabled = pw.BooleanField(default=False)
    disabled_by = pw.CharField(max_length=64, null=True)


class Replacement(BaseModel):
    """Projection of `trust.replaced`: a station's new installation and the one it replaced."""

    installation = pw.CharField(max_length=64, primary_key=True)
    replaces = pw.CharField(max_length=64, index=True)
    station = pw.CharField(max_length=64)


class Credential(BaseModel):
    """Node-local: a password hash, lockout state and session epoch. Never in an event, never synced. A row
    with an empty hash counts the wrong tries of a name with no account (`provisioning.operators`)."""

    username = pw.CharField(max_length=64, primary_key=True)
    password_hash = pw.CharField(max_length=256)
    must_change = pw.BooleanField(default=False)
    failed_attempts = pw.IntegerField(default=0)
    locked_until = pw.DateTimeField(null=True)  # UTC
    session_epoch = pw.IntegerField(default=0)  # in every session cookie; raised at logout and password change
