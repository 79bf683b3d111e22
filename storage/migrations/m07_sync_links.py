"""Migration 7: sync links and request nonces, as released (the link's clock offset came with migration 13)."""

from __future__ import annotations

import peewee as pw

from .frozen import Frozen, create


class SyncLink(Frozen):
    parent = pw.CharField(max_length=64, primary_key=True)
    up_cursor = pw.BigIntegerField(default=0)
    down_cursor = pw.BigIntegerField(default=0)
    last_attempt_at = pw.DateTimeField(null=True)
    next_attempt_at = pw.DateTimeField(null=True)
    last_success_at = pw.DateTimeField(null=True)
    last_error = pw.TextField(null=True)
    failures = pw.IntegerField(default=0)

    class Meta:
        table_name = "sync_link"


class RequestNonce(Frozen):
    nonce = pw.CharField(max_length=64, primary_key=True)
    installation = pw.CharField(max_length=64, index=True)
    at_ms = pw.BigIntegerField(index=True)
    kind = pw.CharField(max_length=8, default="request")

    class Meta:
        table_name = "request_nonce"


def apply() -> None:
    create(SyncLink, RequestNonce)
