"""Migration 4: operator accounts, local credentials, replaced installations, as released (the credentials'
session epoch came with migration 12)."""

from __future__ import annotations

import peewee as pw

from .frozen import Frozen, create


class Operator(Frozen):
    username = pw.CharField(max_length=64, primary_key=True)
    station = pw.CharField(max_length=64, index=True)
    name = pw.CharField(max_length=100)
    role = pw.CharField(max_length=16)
    disabled = pw.BooleanField(default=False)
    disabled_by = pw.CharField(max_length=64, null=True)

    class Meta:
        table_name = "operator"


class Credential(Frozen):
    username = pw.CharField(max_length=64, primary_key=True)
    password_hash = pw.CharField(max_length=256)
    must_change = pw.BooleanField(default=False)
    failed_attempts = pw.IntegerField(default=0)
    locked_until = pw.DateTimeField(null=True)

    class Meta:
        table_name = "credential"


class Replacement(Frozen):
    installation = pw.CharField(max_length=64, primary_key=True)
    replaces = pw.CharField(max_length=64, index=True)
    station = pw.CharField(max_length=64)

    class Meta:
        table_name = "replacement"


def apply() -> None:
    create(Operator, Credential, Replacement)
