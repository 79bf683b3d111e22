"""Tables. Signed payloads are kept as the exact bytes received, never re-serialised."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache

import peewee as pw
from psycopg2.extras import execute_batch, execute_values

from ..database import db, is_postgres, select_in


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class BaseModel(pw.Model):
    class Meta:
        database = db
        legacy_table_names = False


class SchemaVersion(BaseModel):
    version = pw.IntegerField(primary_key=True)
    name = pw.CharField(max_length=100)
    applied_at = pw.DateTimeField(default=utcnow)  # UTC, naive


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
        indexes = ((("origin", "stream", "seq"), True), (("origin", "hlc"), False))


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


class Application(BaseModel):
    """Projection: an application (办件) and where it stands. Residents' fields stay encrypted here
    exactly as in the event; only keyed hashes (for search) and a masked ID number are in clear."""

    number = pw.CharField(max_length=64, primary_key=True)
    station = pw.CharField(max_length=64)  # indexed first in (station, request_token) and (station, filed_on, number)
    item_code = pw.CharField(max_length=32)
    item_version = pw.IntegerField()
    bundle = pw.CharField(max_length=64, null=True)
    state = pw.CharField(max_length=32, index=True)
    sealed = pw.TextField()  # the encrypted applicant fields, as canonical JSON
    id_lookup = pw.CharField(max_length=64, index=True)
    name_lookup = pw.CharField(max_length=64, index=True)
    masked_id = pw.CharField(max_length=18)
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
    decided_on = pw.DateField(null=True)  # Beijing dates of the steps the statistics and retention count
    delivered_on = pw.DateField(null=True)
    rated_on = pw.DateField(null=True)
    handling_days = pw.IntegerField(null=True)  # working days from acceptance to decision, pauses left out
    tally = pw.TextField(default="[]")  # what this application adds to `statistic` (node.rules.tally), to take back

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

    class Meta:
        primary_key = pw.CompositeKey("day", "station", "item_code", "bundle")


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
    via = pw.CharField(max_length=64, null=True)  # the relay that reported it; None: it came itself


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


class SealLock(BaseModel):
    """Local: wrong PINs in a row for a seal held here, and until when it is locked after too many."""

    seal_id = pw.CharField(max_length=64, primary_key=True)
    failures = pw.IntegerField()
    locked_until = pw.DateTimeField(null=True)  # UTC


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


class RequestNonce(BaseModel):
    """Parent-local: nonces of accepted sync requests (a replay is refused), those handed to a
    requester whose clock is off (each redeemable once, whatever its clock says), and those of
    imported bundles (kept: a bundle may be carried back days later)."""

    nonce = pw.CharField(max_length=64, primary_key=True)
    installation = pw.CharField(max_length=64, index=True)
    at_ms = pw.BigIntegerField(index=True)  # requests: when seen or issued, by our clock; bundles: when written
    kind = pw.CharField(max_length=8, default="request")  # request | issued | bundle


def upsert(model: type[BaseModel], **values) -> None:
    """Insert a row or overwrite the one with the same primary key, on SQLite and PostgreSQL alike."""
    key = model._meta.primary_key
    names = list(key.field_names) if isinstance(key, pw.CompositeKey) else [key.name]
    target = [model._meta.fields[n] for n in names]
    update = {model._meta.fields[n]: v for n, v in values.items() if n not in names}
    model.insert(**values).on_conflict(conflict_target=target, update=update).execute()


_deferred = threading.local()  # inside `deferred_inserts`: what is held back (see there), by statement and key


@contextmanager
def deferred_inserts() -> Iterator[None]:
    """Inside, `insert_row` holds rows back, `add_amounts` sums amounts per row and `update_row` holds
    changed rows; all are written at the end, many per round trip. `get_row` finds a row it read before
    (or `read_rows` read ahead) as it was last changed, and writes what is held before it reads one it
    has not. A constraint a held row breaks is raised at the end, as IntegrityError: whoever asked for
    it must be ready to undo the whole block."""
    _deferred.rows, _deferred.sums, _deferred.read, _deferred.changed = {}, {}, {}, {}
    try:
        yield
        flush_inserts()
    finally:
        _deferred.rows = _deferred.sums = _deferred.read = _deferred.changed = None


def add_amounts(sql: str, key: tuple, amounts: tuple[int, ...]) -> None:
    """Run an additive upsert, `sql` taking `(*key, *amounts)`. Inside `deferred_inserts` the amounts for
    one statement and key are summed and written once: adding commutes, and a batch of ten thousand
    filings then writes a few dozen counter rows instead of a statement (a round trip) each."""
    held = getattr(_deferred, "sums", None)
    if held is None:
        db.execute_sql(sql, (*key, *amounts))
        return
    rows = held.setdefault(sql, {})
    before = rows.get(key)
    rows[key] = amounts if before is None else tuple(a + b for a, b in zip(before, amounts, strict=True))


def flush_inserts() -> None:
    held, sums, changed = (getattr(_deferred, name, None) for name in ("rows", "sums", "changed"))
    if not held and not sums and not changed:
        return
    batches = [(sql, list(rows.values())) for sql, rows in held.items()]
    batches += [(sql, [(*key, *amounts) for key, amounts in rows.items()]) for sql, rows in sums.items()]
    updates: dict[str, list[tuple]] = {}  # by the columns changed: the same statement for rows changed alike
    for row, names in changed.values():
        sql, params = _update(row, names)
        updates.setdefault(sql, []).append(params)
    held.clear()
    sums.clear()
    changed.clear()
    with pw.__exception_wrapper__:  # driver errors as peewee's, as `execute_sql` raises them
        cursor = db.cursor()
        for sql, params in batches:
            if is_postgres():  # psycopg2's executemany is a round trip a row: one multi-row VALUES a page
                single = f"VALUES ({', '.join(['%s'] * len(params[0]))})"
                execute_values(cursor, sql.replace(single, "VALUES %s", 1), params, page_size=500)
            else:
                cursor.executemany(sql, params)
        for sql, params in updates.items():
            if is_postgres():  # UPDATEs joined by ";", a page per round trip
                execute_batch(cursor, sql, params, page_size=500)
            else:
                cursor.executemany(sql, params)


@lru_cache(maxsize=64)
def _insert_sql(table: str, columns: tuple[str, ...], param: str, replace_on: tuple[str, ...]) -> str:
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([param] * len(columns))})"
    if replace_on:
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in replace_on)
        sql += f" ON CONFLICT ({', '.join(replace_on)}) DO UPDATE SET {updates}"
    return sql


def insert_row(model: type[BaseModel], values: dict, *, replace_on: tuple[str, ...] = ()) -> None:
    """Insert one row through a prepared string, overwriting the row with the same `replace_on` key.

    Projections insert a row per event applied; peewee's query builder cost several
    times the INSERT itself when a hub applies a batch of thousands.
    """
    fields = model._meta.fields
    columns = tuple(fields[n].column_name for n in values)
    sql = _insert_sql(model._meta.table_name, columns, db.param, replace_on)
    params = tuple(fields[n].db_value(v) for n, v in values.items())
    held = getattr(_deferred, "rows", None)
    if held is None:
        db.execute_sql(sql, params)
        return
    rows = held.setdefault(sql, {})
    # An overwrite held back replaces one held for the same key (the last one wins either way), so that
    # no statement carries a key twice; a plain insert is kept as is, duplicate and all, to be refused.
    key = tuple(params[columns.index(c)] for c in replace_on) if replace_on else len(rows)
    rows.pop(key, None)
    rows[key] = params


@lru_cache(maxsize=64)
def _select_sql(table: str, columns: tuple[str, ...], key: str, param: str) -> str:
    return f"SELECT {', '.join(columns)} FROM {table} WHERE {key} = {param}"


def get_row(model: type[BaseModel], key) -> BaseModel | None:
    """The row with this primary key, read through a prepared string (see `insert_row`); its fields
    are clean, so `update_row` writes only what is changed afterwards. Inside `deferred_inserts`, the
    same row object again until the block ends (or `forget_rows`)."""
    read = getattr(_deferred, "read", None)
    if read is not None and (model, key) in read:
        return read[model, key]
    flush_inserts()  # a row held back must be found
    fields = model._meta.sorted_fields
    sql = _select_sql(
        model._meta.table_name, tuple(f.column_name for f in fields), model._meta.primary_key.column_name, db.param
    )
    found = db.execute_sql(sql, (key,)).fetchone()
    if found is None:
        return None
    row = _clean_row(model, fields, found)
    if read is not None:
        read[model, key] = row
    return row


def read_rows(model: type[BaseModel], keys) -> None:
    """Inside `deferred_inserts`, read the rows with these primary keys (those there are) in a few queries,
    for `get_row` to find: a run of events that each change a row then reads none of them one by one."""
    read = _deferred.read
    fields = model._meta.sorted_fields
    columns = ", ".join(f.column_name for f in fields)
    key = model._meta.primary_key
    sql = f"SELECT {columns} FROM {model._meta.table_name} WHERE {key.column_name} IN ({{marks}})"
    for found in select_in(sql, [k for k in set(keys) if (model, k) not in read]):
        row = _clean_row(model, fields, found)
        read[model, row._pk] = row


def forget_rows() -> None:
    """Write what is held and forget the rows read: for code that goes on to read or write their tables
    by other means than `get_row` and `update_row` (a replay deletes an entity's rows)."""
    flush_inserts()
    read = getattr(_deferred, "read", None)
    if read is not None:
        read.clear()


def _clean_row(model: type[BaseModel], fields: list, found: tuple) -> BaseModel:
    row = model(__no_default__=1)  # values straight into its data: through each field's setter cost twice the read
    row.__data__.update((f.name, f.python_value(v)) for f, v in zip(fields, found, strict=True))
    return row


@lru_cache(maxsize=64)
def _update_sql(table: str, columns: tuple[str, ...], key: str, param: str) -> str:
    return f"UPDATE {table} SET {', '.join(f'{c} = {param}' for c in columns)} WHERE {key} = {param}"


def _update(row: BaseModel, names) -> tuple[str, tuple]:
    """The statement writing these fields of a row, and its parameters."""
    meta = row._meta
    names = sorted(names)
    columns = tuple(meta.fields[n].column_name for n in names)
    sql = _update_sql(meta.table_name, columns, meta.primary_key.column_name, db.param)
    values = tuple(meta.fields[n].db_value(getattr(row, n)) for n in names)
    return sql, (*values, meta.primary_key.db_value(row._pk))


def update_row(row: BaseModel) -> None:
    """Write the fields changed since `get_row`, through a prepared string; inside `deferred_inserts`,
    hold the row back to write it once at the end, however many times it changes meanwhile."""
    if not row._dirty:
        return
    changed = getattr(_deferred, "changed", None)
    if changed is not None:
        _, before = changed.get((type(row), row._pk), (row, set()))
        changed[type(row), row._pk] = (row, before | row._dirty)
    else:
        db.execute_sql(*_update(row, row._dirty))
    row._dirty.clear()
