"""Numbered schema migrations and the schema version table.

A migration is frozen once released: later changes are new migrations. A data
dir whose schema is newer than this program is refused before anything is read.
"""

from __future__ import annotations

from collections.abc import Callable

import peewee as pw
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate as alter

from ..database import db, write_transaction
from ..errors import PendingMigrations, SchemaTooNew
from ..models import (
    Application,
    Attachment,
    AuditEntry,
    Certificate,
    Contact,
    Credential,
    DataKey,
    DeadlineMark,
    EventRecord,
    ForkEvidence,
    Installation,
    Operator,
    PendingDep,
    ReferenceData,
    Registration,
    Replacement,
    RequestNonce,
    Revocation,
    SchemaVersion,
    Seal,
    SealLock,
    SealOrder,
    SealUse,
    SignedHeadRecord,
    Station,
    Statistic,
    StreamHead,
    SyncLink,
    TrustAnchor,
)


def _event_log() -> None:
    db.create_tables([EventRecord, PendingDep, StreamHead, SignedHeadRecord])


def _stations_and_keys() -> None:
    db.create_tables([Station, Installation, DataKey])


def _trust() -> None:
    db.create_tables([Registration, Certificate, TrustAnchor, Revocation, AuditEntry])


def _operators() -> None:
    db.create_tables([Operator, Credential, Replacement])


def _applications() -> None:
    db.create_tables([Application, Attachment])


def _reference_data() -> None:
    db.create_tables([ReferenceData, DeadlineMark])
    # The queue's order, newest first, walked page by page (`node.cases.intake.search`).
    db.execute_sql("CREATE INDEX IF NOT EXISTS application_filed_on_number ON application (filed_on, number)")


def _sync_links() -> None:
    db.create_tables([SyncLink, RequestNonce])


def _seals() -> None:
    db.create_tables([SealOrder, Seal, SealUse, SealLock])


def _statistics() -> None:
    """Counters start empty: `onetrip rebuild` counts the applications a node held before this migration.
    A database made since migration 5 read the current model already has the columns: only missing ones."""
    table, fields = Application._meta.table_name, Application._meta.fields
    present = {column.name for column in db.get_columns(table)}
    migrator = SchemaMigrator.from_database(db.obj)
    names = ("decided_on", "delivered_on", "rated_on", "handling_days", "tally")
    alter(*(migrator.add_column(table, name, fields[name]) for name in names if name not in present))
    db.execute_sql(f"CREATE INDEX IF NOT EXISTS application_rating ON {table} (rating)")
    db.create_tables([Statistic, Contact])


def _forks() -> None:
    db.create_tables([ForkEvidence])


def _leaner_indexes() -> None:
    """Fewer indexes to keep up at every write: a station's applications are found through the two indexes
    that start with the station, and event statuses are indexed only where they are not `applied`."""
    db.execute_sql("DROP INDEX IF EXISTS application_station")
    db.execute_sql("DROP INDEX IF EXISTS event_status")
    db.execute_sql("CREATE INDEX IF NOT EXISTS event_unsettled ON event (status) WHERE status <> 'applied'")


def _session_epochs() -> None:
    """Sessions made before carry no epoch and end at once. A database made since migration 4 read the
    current model already has the column."""
    if "session_epoch" not in {column.name for column in db.get_columns(Credential._meta.table_name)}:
        alter(SchemaMigrator.from_database(db.obj).add_column("credential", "session_epoch", Credential.session_epoch))


def _link_clock_offset() -> None:
    """A database made since migration 7 read the current model already has the column."""
    table = SyncLink._meta.table_name
    if "clock_offset_ms" not in {column.name for column in db.get_columns(table)}:
        alter(SchemaMigrator.from_database(db.obj).add_column(table, "clock_offset_ms", SyncLink.clock_offset_ms))


MIGRATIONS: tuple[tuple[int, str, Callable[[], None]], ...] = (
    (1, "event log", _event_log),
    (2, "stations, installations, data keys", _stations_and_keys),
    (3, "registrations, certificates, trust anchors, revocations, audit", _trust),
    (4, "operator accounts, local credentials, replaced installations", _operators),
    (5, "applications and their material scans", _applications),
    (6, "published catalogues and holiday tables, deadline marks, the queue's index", _reference_data),
    (7, "sync links and request nonces", _sync_links),
    (8, "seal orders, seals, their uses and PIN locks", _seals),
    (9, "application statistics, dates and tallies; children's last contact", _statistics),
    (10, "fork evidence", _forks),
    (11, "no index of applications by station alone; event statuses indexed where not applied", _leaner_indexes),
    (12, "session epochs of local credentials", _session_epochs),
    (13, "how far the parent's clock is from ours, as it last told us", _link_clock_offset),
)
LATEST = MIGRATIONS[-1][0]


def current_version() -> int:
    if not db.table_exists(SchemaVersion._meta.table_name):
        return 0
    return SchemaVersion.select(pw.fn.MAX(SchemaVersion.version)).scalar() or 0


def migrate(target: int = LATEST) -> list[int]:
    """Apply pending migrations up to `target`, each in its own transaction; return those applied."""
    refuse_newer()
    db.create_tables([SchemaVersion])
    applied = []
    for version, name, step in MIGRATIONS:
        if current_version() < version <= target:
            with write_transaction():
                step()
                SchemaVersion.create(version=version, name=name)
            applied.append(version)
    return applied


def refuse_newer() -> None:
    found = current_version()
    if found > LATEST:
        raise SchemaTooNew(
            f"数据目录的结构版本为 {found}，本程序只认识到 {LATEST}："
            "它由更新版本的 OneTrip 写入，请升级 OneTrip 后再打开，切勿用旧版本覆盖。"
        )


def require_current() -> None:
    """A node refuses to start on a schema it would misread."""
    refuse_newer()
    found = current_version()
    if found < LATEST:
        raise PendingMigrations(
            f"数据库结构版本为 {found}，需要 {LATEST}：请先运行 `onetrip migrate --data 数据目录`。"
        )
