"""Sync bookkeeping: this node's link to its parent, children's last contact, request nonces, fork evidence."""

from __future__ import annotations

import peewee as pw

from .base import BaseModel, utcnow


class SyncLink(BaseModel):
    """Child-local: this node's link to its parent. Both cursors are arrival numbers: `up_cursor`
    in this node's log (sent and acknowledged up to there), `down_cursor` in the parent's."""

    parent = pw.CharField(max_length=64, primary_key=True)  # the parent station's code
    up_cursor = pw.BigIntegerField(default=0)
    down_cursor = pw.BigIntegerField(default=0)
    last_attempt_at = pw.DateTimeField(null=True)  # UTC
    next_attempt_at = pw.DateTimeField(null=True)  # UTC: the interval, or the backoff after failures
    last_success_at = pw.DateTimeField(null=True)  # UTC
    last_error = pw.TextField(null=True)  # in plain Chinese, for the badge; cleared by a success
    failures = pw.IntegerField(default=0)  # consecutive: the backoff grows with it
    # The parent's clock minus ours when it last refused our time (protocol §9.5); None while it accepts it.
    clock_offset_ms = pw.BigIntegerField(null=True)


class Contact(BaseModel):
    """Hub-local: when each station below last reached this node with an authenticated sync request, or
    (`via` a relay) last reached that relay, and the health it reported then."""

    station = pw.CharField(max_length=64, primary_key=True)
    installation = pw.CharField(max_length=64)
    at = pw.DateTimeField()  # UTC
    clock_offset_ms = pw.BigIntegerField(null=True)  # its clock minus ours, from its signed request time
    version = pw.CharField(max_length=32, null=True)
    pending_events = pw.IntegerField(null=True)  # stored there, not yet acknowledged by its parent
    oldest_unsent_s = pw.IntegerField(null=True)
    update_state = pw.CharField(max_length=64, null=True)  # its release update, in words (node/releases/)
    via = pw.CharField(max_length=64, null=True)  # the relay that reported it; None: it came itself


class RequestNonce(BaseModel):
    """Parent-local: nonces of accepted sync requests (a replay is refused), those handed to a
    requester whose clock is off (each redeemable once, whatever its clock says), and those of
    imported bundles (kept: a bundle may be carried back days later)."""

    nonce = pw.CharField(max_length=64, primary_key=True)
    installation = pw.CharField(max_length=64, index=True)
    at_ms = pw.BigIntegerField(index=True)  # requests: when seen or issued, by our clock; bundles: when written
    kind = pw.CharField(max_length=8, default="request")  # request | issued | bundle


class ForkEvidence(BaseModel):
    """Two events one installation signed at the same (stream, seq): the one held, and the other with
    the signed head that vouches for it. Kept for the county; the installation's events stop applying."""

    origin = pw.CharField(max_length=128, index=True)
    stream = pw.CharField(max_length=128)
    seq = pw.BigIntegerField()
    held_eid = pw.CharField(max_length=64)
    other_eid = pw.CharField(max_length=64)
    other_body = pw.BlobField()
    head_body = pw.BlobField()
    head_signature = pw.BlobField()
    found_at = pw.DateTimeField(default=utcnow)  # UTC

    class Meta:
        primary_key = pw.CompositeKey("origin", "stream", "seq", "other_eid")
