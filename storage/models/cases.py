"""Applications (办件) and what hangs off them: material scans, deadline marks, statistics, and the
published reference data (catalogues, holiday tables) they are judged by."""

from __future__ import annotations

import peewee as pw

from .base import BaseModel


class Application(BaseModel):
    """Projection: an application (办件) and where it stands. Residents' fields stay encrypted here
    exactly as in the event; only keyed hashes (for search) and a masked ID number are in clear."""

    number = pw.CharField(max_length=64, primary_key=True)
    station = pw.CharField(max_length=64)  # indexed first in (station, request_token) and (station, filed_on, number)
    item_code = pw.CharField(max_length=32)
    item_version = pw.IntegerField()
    bundle = pw.CharField(max_length=64, null=True)
    case_number = pw.CharField(max_length=64, null=True, index=True)  # 一件事: the case's number (its first item's)
    state = pw.CharField(max_length=32, index=True)
    sealed = pw.TextField()  # the encrypted applicant fields, as canonical JSON
    id_lookup = pw.CharField(max_length=64, index=True)
    name_lookup = pw.CharField(max_length=64, index=True)
    masked_id = pw.CharField(max_length=18)
    masked_name = pw.CharField(max_length=50, null=True)  # the query page's one personal word (none before m14)
    query_code = pw.CharField(max_length=16, null=True, unique=True)  # 查询码 (node.rules.querycode)
    id_tail_check = pw.CharField(max_length=64, null=True)  # scrypt of the ID's last four (node.cases.intake)
    request_token = pw.CharField(max_length=64)  # a retried submit finds the first one (unique per station)
    filed_by = pw.CharField(max_length=64)
    filed_on = pw.DateField()
    accepted_on = pw.DateField(null=True)
    paused_since = pw.DateField(null=True)
    pauses = pw.TextField(default="[]")  # JSON list of [first, last] ISO dates the clock stood still
    due = pw.DateField(null=True, index=True)
    due_provisional = pw.BooleanField(default=False)
    decision_reason = pw.TextField(null=True)
    rating = pw.IntegerField(null=True, index=True)  # the dashboard lists the low ones
    rating_comment = pw.TextField(null=True)
    rating_grade = pw.CharField(max_length=32, null=True)  # node.rules.ratings.GRADES; `rating` its stars
    rating_reasons = pw.TextField(null=True)  # JSON list of node.rules.ratings.REASONS codes, for a low grade
    decided_on = pw.DateField(null=True)  # Beijing dates of the steps the statistics and retention count
    delivered_on = pw.DateField(null=True)
    rated_on = pw.DateField(null=True)
    handling_days = pw.IntegerField(null=True)  # working days from acceptance to decision, pauses left out
    tally = pw.TextField(default="[]")  # what this application adds to `statistic` (node.rules.tally), to take back
    deferral = pw.TextField(null=True)  # 容缺: the deferred materials and their last day (node.rules.deferrals)
    deferral_due = pw.DateField(null=True, index=True)  # that last day: the overdue warning finds cases by it
    deferral_owed = pw.IntegerField(default=0)  # deferred materials not yet brought: the queue's 容缺待补
    handler = pw.CharField(max_length=16, null=True, index=True)  # 跨区域通办: the handling county, if not its own

    class Meta:
        indexes = (
            (("station", "request_token"), True),
            (("station", "filed_on", "number"), False),
            (("filed_on", "number"), False),  # the queue's order, newest first, walked page by page
        )


class Statistic(BaseModel):
    """Counters per Beijing day, station, item and bundle, kept by the application projection as events are
    applied (node.rules.tally): a dashboard sums a few rows per day instead of reading every application."""

    day = pw.DateField()
    station = pw.CharField(max_length=64)
    item_code = pw.CharField(max_length=32)
    bundle = pw.CharField(max_length=64)  # "" for an item filed alone
    filed = pw.IntegerField(default=0)
    accepted = pw.IntegerField(default=0)
    decided = pw.IntegerField(default=0)
    on_time = pw.IntegerField(default=0)
    late = pw.IntegerField(default=0)
    handling_days = pw.IntegerField(default=0)  # summed over the day's decisions
    within_1 = pw.IntegerField(default=0)
    within_3 = pw.IntegerField(default=0)
    within_5 = pw.IntegerField(default=0)
    within_10 = pw.IntegerField(default=0)
    within_20 = pw.IntegerField(default=0)
    over_20 = pw.IntegerField(default=0)
    rated = pw.IntegerField(default=0)
    stars = pw.IntegerField(default=0)
    low_rated = pw.IntegerField(default=0)
    deferred = pw.IntegerField(default=0)  # 容缺: cases accepted with a deferral, on their day of acceptance
    deferral_supplied = pw.IntegerField(default=0)  # of those, all brought by the last day (same day as accepted)
    deferral_lapsed = pw.IntegerField(default=0)  # of those, ended for what was still owed (same day as accepted)

    class Meta:
        primary_key = pw.CompositeKey("day", "station", "item_code", "bundle")


class Attachment(BaseModel):
    """Projection: a material's scan, stored encrypted in the blob store under the hash of the ciphertext."""

    number = pw.CharField(max_length=64, index=True)
    material = pw.CharField(max_length=64)
    blob = pw.CharField(max_length=64)
    content_type = pw.CharField(max_length=64)
    size = pw.IntegerField()
    by = pw.CharField(max_length=64)

    class Meta:
        primary_key = pw.CompositeKey("number", "blob")


class DeadlineMark(BaseModel):
    """Where a running deadline stands, as the scheduler last judged it: lists colour and count by it
    without recounting working days for every row on every page."""

    number = pw.CharField(max_length=64, primary_key=True)
    status = pw.CharField(max_length=16, index=True)  # due_soon | overdue
    since = pw.DateField()  # the Beijing date it first stood so


class ReferenceData(BaseModel):
    """Projection: each catalogue or holiday table a county or city published, every version kept
    (applications keep the item version they were filed under)."""

    kind = pw.CharField(max_length=16)  # catalogue | holidays
    publisher = pw.CharField(max_length=64)  # the station whose `all` stream carries it
    region = pw.CharField(max_length=12)  # the publisher's division: it applies to stations inside it
    version = pw.IntegerField()
    body = pw.TextField()  # the canonical JSON document
    eid = pw.CharField(max_length=64)

    class Meta:
        primary_key = pw.CompositeKey("kind", "publisher", "version")


class RatingToken(BaseModel):
    """A one-time credential for the rating page an agent turns toward the resident: only its hash is kept,
    and it is local (the rating event it lets the resident make is what travels)."""

    digest = pw.CharField(max_length=64, primary_key=True)  # SHA-256 of the token, hex
    number = pw.CharField(max_length=64, index=True)
    expires_at = pw.DateTimeField()  # UTC, naive
    used = pw.BooleanField(default=False)

    class Meta:
        table_name = "rating_token"


class Notice(BaseModel):
    """At a county hub: one SMS notice to a resident (node.rules.notices), queued from an application event and
    sent through the gateway; `sent_at` is set from the county's own `notice.sent` event, so a restored hub
    knows what went out. The phone number is never stored here: it is decrypted when the notice is sent."""

    notice_id = pw.CharField(max_length=32, primary_key=True)  # the gateway's idempotency key
    number = pw.CharField(max_length=64, index=True)
    kind = pw.CharField(max_length=16)
    text = pw.TextField()
    arrival = pw.BigIntegerField(index=True)  # of the event that made it: where the next scan starts
    due_ms = pw.BigIntegerField()
    attempts = pw.IntegerField(default=0)
    sent_at = pw.DateTimeField(null=True)
    message_id = pw.CharField(max_length=64, null=True)
    status = pw.CharField(max_length=32, null=True)


class ProvinceRecord(BaseModel):
    """At a city hub: an application's record for the province (`node.hub.exchange`) as it is now (`digest`)
    and as last accepted there (`sent_digest`); a row whose two differ waits in the outbox until `due_ms`.
    The record itself is made again from the application when it is sent, never stored."""

    number = pw.CharField(max_length=64, primary_key=True)
    filed_on = pw.DateField(index=True)  # the day the province counts it under, for the daily reconciliation
    digest = pw.CharField(max_length=64)
    sent_digest = pw.CharField(max_length=64, null=True)
    attempts = pw.IntegerField(default=0)
    due_ms = pw.BigIntegerField(index=True)
    waiting_since_ms = pw.BigIntegerField(null=True)  # since when it has waited to be sent: the backlog's age
    sent_at = pw.DateTimeField(null=True)  # UTC, naive


class ScanCursor(BaseModel):
    """Where a periodic scan of the event log stopped (`name`: the scan's), so that events it read and had
    nothing to do with (another station's case, one purged here) are not read again at every run."""

    name = pw.CharField(max_length=32, primary_key=True)
    arrival = pw.BigIntegerField()

    class Meta:
        table_name = "scan_cursor"
