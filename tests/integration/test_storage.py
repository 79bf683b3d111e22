"""Everything `storage/` promises, on SQLite and PostgreSQL alike (the contract suite),
plus the SQLite safety pragmas and the blob store."""

from __future__ import annotations

import datetime as dt
import os
import threading

import peewee
import pytest

from harness.postgres import PrivatePostgres
from storage.blobs import BlobStore, is_blob_name
from storage.database import bind, db, open_database, release, write_transaction
from storage.errors import (
    BlobCorrupt,
    BlobMissing,
    PendingMigrations,
    SchemaTooNew,
    StorageError,
    UnsupportedDatabase,
    is_unreachable,
)
from storage.events import insert_events
from storage.migrations import LATEST, MIGRATIONS, current_version, migrate, require_current
from storage.models import (
    Application,
    Contact,
    DataKey,
    EventRecord,
    Operator,
    SchemaVersion,
    Station,
    StreamHead,
    deferred_inserts,
    forget_rows,
    get_row,
    insert_row,
    read_rows,
    unsettled,
    update_row,
    upsert,
)

KEY = ("entity", "recipient")  # DataKey's primary key


def test_a_fresh_database_migrates_to_the_latest_schema(any_database):
    assert current_version() == 0
    assert migrate() == [version for version, _, _ in MIGRATIONS] and MIGRATIONS[-1][0] == LATEST
    assert current_version() == LATEST
    require_current()
    assert migrate() == []


def test_an_older_database_upgrades_and_keeps_its_data(any_database):
    migrate(target=1)
    StreamHead.create(origin="i-old", stream="s", seq=3, chain="ab" * 32)
    with pytest.raises(PendingMigrations):
        require_current()
    assert migrate() == [version for version, _, _ in MIGRATIONS[1:]]
    assert StreamHead.get(origin="i-old", stream="s").seq == 3
    assert Station.select().count() == 0  # the new tables exist


def test_a_database_from_a_newer_version_is_refused_with_a_clear_message(any_database):
    migrate()
    SchemaVersion.create(version=LATEST + 5, name="from the future")
    with pytest.raises(SchemaTooNew) as refused:
        migrate()
    assert "更新版本" in str(refused.value)
    with pytest.raises(SchemaTooNew):
        require_current()


def test_an_upgraded_database_has_exactly_the_indexes_the_models_declare(any_database):
    migrate(target=10)
    db.execute_sql("CREATE INDEX IF NOT EXISTS application_station ON application (station)")  # as made before 11
    db.execute_sql("CREATE INDEX IF NOT EXISTS event_status ON event (status)")
    migrate()
    for model in (EventRecord, Application):
        found = {i.name: i.sql for i in db.get_indexes(model._meta.table_name)}
        keys = {name for name in found if name.endswith("_pkey") or name.startswith("sqlite_autoindex")}
        assert set(found) - keys == {index._name for index in model._meta.fields_to_index()}
    assert "applied" in {i.name: i.sql for i in db.get_indexes("event")}["event_unsettled"]


def test_queries_by_a_status_other_than_applied_use_the_partial_index(migrated):
    query = EventRecord.select().where(unsettled("quarantined"))
    sql, params = query.sql()
    if db.param == "?":
        plan = " ".join(str(row) for row in db.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall())
    else:
        db.execute_sql("SET enable_seqscan = off")  # an empty table: the planner would scan it whatever the indexes
        plan = " ".join(str(row) for row in db.execute_sql("EXPLAIN " + sql, params).fetchall())
    assert "event_unsettled" in plan


def test_origin_stream_seq_is_unique(migrated):
    row = dict(origin="o", stream="s", seq=1, hlc=1, type="t", entity="e", body=b"x", chain="0" * 64, status="applied")
    EventRecord.create(eid="a" * 64, **row)
    with pytest.raises(peewee.IntegrityError):
        with db.atomic():
            EventRecord.create(eid="b" * 64, **row)


def test_a_write_transaction_is_all_or_nothing(migrated):
    with pytest.raises(RuntimeError):
        with write_transaction():
            StreamHead.create(origin="o", stream="s", seq=1, chain="0" * 64)
            raise RuntimeError
    assert StreamHead.select().count() == 0


def test_upsert_inserts_then_overwrites_by_primary_key(migrated):
    upsert(DataKey, entity="app-1", recipient="station", wrapped=b"one")
    upsert(DataKey, entity="app-1", recipient="station", wrapped=b"two")
    assert [bytes(r.wrapped) for r in DataKey.select()] == [b"two"]


def test_rows_held_back_are_written_at_the_end_the_last_overwrite_winning(migrated):
    with write_transaction(), deferred_inserts():
        for wrapped in (b"one", b"two", b"three"):
            insert_row(DataKey, {"entity": "app-1", "recipient": "station", "wrapped": wrapped}, replace_on=KEY)
        insert_row(DataKey, {"entity": "app-2", "recipient": "station", "wrapped": b"x"}, replace_on=KEY)
        assert DataKey.select().count() == 0
    assert {r.entity: bytes(r.wrapped) for r in DataKey.select()} == {"app-1": b"three", "app-2": b"x"}


def test_a_plain_insert_held_back_twice_is_refused_at_the_end(migrated):
    with pytest.raises(peewee.IntegrityError), write_transaction(), deferred_inserts():
        for _ in range(2):
            insert_row(DataKey, {"entity": "app-1", "recipient": "station", "wrapped": b"one"})
    assert DataKey.select().count() == 0


def _operator(username: str, name: str) -> dict:
    return {"username": username, "station": "511302", "name": name, "role": "clerk", "disabled": False}


def test_rows_read_ahead_and_changed_are_written_once_at_the_end_as_last_changed(migrated):
    for username in ("a", "b", "c"):
        insert_row(Operator, _operator(username, "old"))
    with write_transaction(), deferred_inserts():
        read_rows(Operator, ["a", "b", "missing"])
        row = get_row(Operator, "a")
        assert get_row(Operator, "a") is row and get_row(Operator, "missing") is None
        for name in ("first", "second"):
            row.name = name
            update_row(row)
        assert get_row(Operator, "a").name == "second"
        assert Operator.get_by_id("a").name == "old"  # held back until the end
        get_row(Operator, "c").disabled = True  # changed but never handed to update_row: not written
    assert {o.username: (o.name, o.disabled) for o in Operator.select()} == {
        "a": ("second", False),
        "b": ("old", False),
        "c": ("old", False),
    }


def test_a_row_read_ahead_holds_each_field_s_own_python_type(migrated):
    """Text and integers are taken as the driver gives them; every other field still converts (a boolean is
    stored as 0 or 1 on SQLite)."""
    insert_row(Operator, {**_operator("a", "王芳"), "disabled": True})
    with write_transaction(), deferred_inserts():
        read_rows(Operator, ["a"])
        row = get_row(Operator, "a")
    assert row.disabled is True and row.name == "王芳" and row.staff_no is None


def test_after_forget_rows_a_row_deleted_and_filed_again_is_read_afresh_not_from_what_was_held(migrated):
    insert_row(Operator, _operator("a", "old"))
    with write_transaction(), deferred_inserts():
        stale = get_row(Operator, "a")
        stale.name, stale.disabled = "changed", True
        update_row(stale)
        forget_rows()  # what a replay's reset does before it deletes an entity's rows
        assert Operator.get_by_id("a").name == "changed"
        Operator.delete().where(Operator.username == "a").execute()
        insert_row(Operator, _operator("a", "again"))
        fresh = get_row(Operator, "a")
        assert fresh is not stale and (fresh.name, fresh.disabled) == ("again", False)
    assert (Operator.get_by_id("a").name, Operator.get_by_id("a").disabled) == ("again", False)


def test_a_row_changed_and_held_back_is_undone_with_the_block(migrated):
    insert_row(Operator, _operator("a", "old"))
    with pytest.raises(RuntimeError), write_transaction(), deferred_inserts():
        row = get_row(Operator, "a")
        row.name = "changed"
        update_row(row)
        raise RuntimeError
    with write_transaction(), deferred_inserts():
        assert get_row(Operator, "a").name == "old"


def test_binary_payloads_come_back_byte_for_byte(migrated):
    body = bytes(range(256)) * 4
    EventRecord.create(
        eid="c" * 64,
        origin="o",
        stream="s",
        seq=1,
        hlc=2**62,
        type="t",
        entity="e",
        body=body,
        chain="0" * 64,
        status="applied",
    )
    record = EventRecord.get(EventRecord.eid == "c" * 64)
    assert bytes(record.body) == body and record.hlc == 2**62


def test_event_rows_inserted_together_come_back_whole_in_order_and_a_refused_one_leaves_none(migrated):
    """On PostgreSQL they go by binary COPY: every kind of value a row holds (text beyond ASCII, integers past 32
    bits, bytes of every value, NULL) must come back as it went, numbered in the order given."""
    body = bytes(range(256)) * 8
    rows = [
        (
            f"{i:064x}",
            "i-甲",
            "s",
            i,
            2**62 + i,
            "application.filed",
            f"a/青山村-{i}",
            body[i:],
            "0" * 64,
            "applied",
            None,
        )
        for i in range(1, 4)
    ]
    rows[1] = (*rows[1][:-2], "quarantined", "状态不允许：已受理")
    with write_transaction():
        insert_events(rows)
    stored = EventRecord.select().order_by(EventRecord.arrival)
    assert [(r.eid, r.origin, r.seq, r.hlc, r.entity, bytes(r.body), r.status, r.reason) for r in stored] == [
        (row[0], row[1], row[3], row[4], row[6], row[7], row[9], row[10]) for row in rows
    ]
    with pytest.raises(peewee.IntegrityError), write_transaction():  # the second row's eid is taken
        insert_events([(f"{9:064x}", *rows[0][1:3], 9, *rows[0][4:]), rows[1]])
    assert EventRecord.select().count() == 3


def test_rows_held_back_come_back_as_given_whatever_their_columns_types(migrated):
    """On PostgreSQL held plain inserts go by binary COPY (`storage.pgcopy`), each value as its column's own
    bytes: text beyond ASCII with tabs and backslashes, dates, booleans, integers, NULL, timestamps and bytes
    must come back as given."""
    filed = {
        "number": "511302001001-0001",
        "station": "511302001001",
        "item_code": "11511300MB1234567X-0001",
        "item_version": 2**31 - 1,
        "case_number": None,
        "state": "submitted",
        "sealed": '{"姓名":"张\t三\\","note":"a\nb"}',
        "id_lookup": "k" * 64,
        "name_lookup": "n" * 64,
        "masked_id": "5113**********1234",
        "request_token": "t-1",
        "filed_by": "cun.agent",
        "filed_on": dt.date(2026, 12, 5),
        "due": dt.date(1999, 12, 31),
        "due_provisional": True,
        "handling_days": 0,
        "pauses": "[]",
        "tally": "[]",
        "deferral_owed": -(2**31),
    }
    moments = {
        "511302001002": dt.datetime(2026, 12, 5, 9, 30, 1, 123456),
        "511302001003": dt.datetime(2000, 1, 1),
        "511302001004": dt.datetime(1999, 12, 31, 23, 59, 59, 999999),
    }
    with write_transaction(), deferred_inserts():
        insert_row(Application, filed)
        for station, at in moments.items():
            insert_row(Contact, {"station": station, "installation": "i", "at": at, "via": None})
        insert_row(DataKey, {"entity": "a", "recipient": "r", "wrapped": bytes(range(256))})
    row = Application.get_by_id(filed["number"])
    assert {name: getattr(row, name) for name in filed} == filed
    assert row.bundle is None and row.accepted_on is None  # columns left out
    stored = {c.station: c.at for c in Contact.select()}
    assert stored == moments
    assert bytes(DataKey.get().wrapped) == bytes(range(256))


def test_sqlite_is_opened_with_the_safety_pragmas(sqlite_database):
    pragma = lambda name: db.execute_sql(f"PRAGMA {name}").fetchone()[0]  # noqa: E731
    assert pragma("journal_mode") == "wal"
    assert pragma("synchronous") == 2  # FULL
    assert pragma("foreign_keys") == 1
    assert pragma("busy_timeout") == 10_000


def test_a_thread_finding_the_postgresql_pool_empty_waits_for_a_connection_instead_of_failing(postgres_database):
    bind(open_database(postgres_database, connections=1))
    db.execute_sql("SELECT 1")  # this thread holds the only connection
    answered = []

    def query():
        answered.append(db.execute_sql("SELECT 2").fetchone()[0])
        release()

    waiting = threading.Thread(target=query)
    waiting.start()
    waiting.join(0.5)
    assert waiting.is_alive() and answered == []
    release()
    waiting.join(10)
    assert answered == [2]


def test_on_postgresql_rows_outside_the_log_are_written_while_a_writer_of_the_log_holds_its_lock(postgres_database):
    """A station's last contact is written as its request is authenticated: in a storm, waiting for the lock a
    batch's apply holds made every request wait twice, each time holding a sync slot."""
    bind(open_database(postgres_database, connections=4))
    migrate()
    release()
    holding, done = threading.Event(), threading.Event()

    def apply_a_batch():
        with write_transaction():
            holding.set()
            done.wait(10)
        release()

    def contact(log: bool, written: list):
        with write_transaction(log=log):
            upsert(Contact, station="511302001001", installation="i-1", at=dt.datetime(2026, 12, 5), via=None)
        written.append(log)
        release()

    batch = threading.Thread(target=apply_a_batch)
    batch.start()
    assert holding.wait(10)
    written = []
    outside, inside = (threading.Thread(target=contact, args=(log, written)) for log in (False, True))
    outside.start()
    outside.join(5)
    inside.start()
    inside.join(0.5)
    assert written == [False], "the row outside the log waited for the writers' lock, or a writer of the log did not"
    done.set()
    for thread in (batch, inside):
        thread.join(10)
    assert written == [False, True]


def test_a_pooled_connection_goes_back_only_outside_a_transaction(postgres_database):
    bind(open_database(postgres_database, connections=1))
    with write_transaction():  # holds the writer lock: the connection stays with its owner
        release()
        assert not db.is_closed()
        db.execute_sql("SELECT 1")
    release()
    assert db.is_closed()


@pytest.mark.postgres
@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_a_connection_the_server_dropped_between_two_statements_reads_as_the_database_away(postgres_binaries, mode):
    """A unit of work holds its connection between statements (a push verifies signatures between its reads and
    its writes) when PostgreSQL goes down and comes back, reached over its unix socket as docs/operations.md has
    a hub reach it. The next statement fails; the failure must read as the database away (503 busy, the station
    retries), not as a fault of ours (500). After a crash (`immediate`), libpq reports the lost connection on
    the socket as a DatabaseError with no SQLSTATE, not an OperationalError."""
    with PrivatePostgres() as server:
        bind(open_database(server.socket_url))
        try:
            db.execute_sql("SELECT 1")  # the connection checked out, as a request's first statement does
            server.stop(mode)
            server.start()
            with pytest.raises(peewee.DatabaseError) as raised:
                db.execute_sql("SELECT 1")
            assert is_unreachable(raised.value), repr(raised.value.orig)
            release()  # the request's teardown: the pool discards the broken connection…
            assert db.execute_sql("SELECT 2").fetchone() == (2,)  # …and the next unit of work gets a new one
        finally:
            db.obj.close_all()


def test_sqlite_keeps_each_thread_s_connection_after_a_unit_of_work(sqlite_database):
    db.execute_sql("SELECT 1")
    release()  # reopening would drop the page cache and checkpoint the WAL at every request
    assert not db.is_closed()


def test_an_unknown_database_scheme_is_refused():
    with pytest.raises(UnsupportedDatabase):
        open_database("mysql://root@localhost/onetrip")


def test_a_blob_is_named_by_its_hash_and_read_back(tmp_path):
    store = BlobStore(tmp_path / "blobs")
    digest = store.put(b"scan of an ID card")
    assert store.has(digest)
    assert store.get(digest) == b"scan of an ID card"
    assert [p.name for p in (tmp_path / "blobs").rglob(".incoming-*")] == []


def test_a_blob_whose_bytes_no_longer_match_its_name_is_detected(tmp_path):
    store = BlobStore(tmp_path / "blobs")
    digest = store.put(b"original")
    store.path(digest).write_bytes(b"bit rot")
    with pytest.raises(BlobCorrupt):
        store.get(digest)


def test_a_blob_received_under_the_wrong_name_is_refused_and_leaves_nothing(tmp_path):
    import io

    store = BlobStore(tmp_path / "blobs")
    with pytest.raises(BlobCorrupt):
        store.put_stream(io.BytesIO(b"payload"), expected="0" * 64)
    assert list((tmp_path / "blobs").rglob("*")) == []
    with pytest.raises(BlobMissing):
        store.get("0" * 64)


def test_blob_writes_are_fsynced_then_renamed(tmp_path, monkeypatch):
    synced, renamed = [], []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (renamed.append((len(synced), b)), real_replace(a, b))[1])
    BlobStore(tmp_path / "blobs").put(b"x" * 10)
    assert renamed and renamed[0][0] >= 1, "the file was fsynced before the rename"
    assert len(synced) >= 2, "and the directory after it"


def test_staged_blobs_reach_the_store_only_when_placed_and_the_rest_leave_nothing(tmp_path):
    import io

    store = BlobStore(tmp_path / "blobs")
    with store.staged() as staging:
        kept = staging.add(io.BytesIO(b"in scope"))
        dropped = staging.add(io.BytesIO(b"out of scope"))
        assert not store.has(kept)
        staging.place([kept])
    assert store.get(kept) == b"in scope" and not store.has(dropped)
    with pytest.raises(BlobCorrupt), store.staged() as staging:
        staging.add(io.BytesIO(b"good"))
        staging.add(io.BytesIO(b"bad"), expected="0" * 64)
    assert [p.name for p in (tmp_path / "blobs").rglob("*") if p.is_file()] == [kept]


def test_a_blob_name_with_a_trailing_newline_is_no_name(tmp_path):
    digest = BlobStore(tmp_path).put(b"scan")
    assert is_blob_name(digest) and not is_blob_name(digest + "\n") and not is_blob_name(digest.upper())
    with pytest.raises(StorageError, match="不是扫描件的名称"):
        BlobStore(tmp_path).has(digest + "\n")


@pytest.mark.postgres
def test_a_url_naming_a_standby_before_the_primary_reaches_the_one_that_writes(postgres_url):
    """Several hosts in one URL, as for a primary with a standby: libpq tries them in order and
    `target_session_attrs=read-write` keeps only a server that takes writes. This machine runs one server,
    so the host tried first is one that does not answer (a standby down or promoted away)."""
    head, name = postgres_url.rsplit("/", 1)
    user, _, live = head.rpartition("@")
    url = f"{user}@127.0.0.1:9,{live}/{name}?target_session_attrs=read-write&connect_timeout=2"
    if db.obj is not None and not db.is_closed():
        db.close()
    bind(open_database(url))
    migrate()
    with write_transaction():
        db.execute_sql("CREATE TABLE failover_probe (n integer)")
        db.execute_sql("INSERT INTO failover_probe VALUES (1)")
    assert db.execute_sql("SELECT n, pg_is_in_recovery() FROM failover_probe").fetchone() == (1, False)
    assert current_version() == LATEST
    db.close()
