"""Numbered schema migrations and the schema version table.

A migration is frozen once released: later changes are new migrations. Each one (`mNN_*.py`) carries
the schema it creates, as tables of its own (`frozen.Frozen`), never the live models: a later change
to `storage.models` cannot alter it, and a test builds a database by migrations and compares it with
the models. A data dir whose schema is newer than this program is refused before anything is read.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import peewee as pw

from ..database import db, write_transaction
from ..errors import PendingMigrations, SchemaTooNew
from . import (
    m01_event_log,
    m02_stations_and_keys,
    m03_trust,
    m04_operators,
    m05_applications,
    m06_reference_data,
    m07_sync_links,
    m08_seals,
    m09_statistics,
    m10_forks,
    m11_leaner_indexes,
    m12_session_epochs,
    m13_link_clock_offset,
    m14_query_codes,
    m15_ratings,
    m16_staff_numbers,
    m17_notices,
    m18_scan_cursors,
    m19_operator_phones,
    m20_rectifications,
    m21_deferrals,
    m22_bundle_cases,
    m23_cross_region,
    m24_province_records,
    m25_update_states,
    m26_stream_arrival,
)
from .frozen import Frozen


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class _SchemaVersion(Frozen):
    """The schema version table, as the first release made it (`storage.models._SchemaVersion` reads it)."""

    version = pw.IntegerField(primary_key=True)
    name = pw.CharField(max_length=100)
    applied_at = pw.DateTimeField(default=_utcnow)  # UTC, naive

    class Meta:
        table_name = "schema_version"


MIGRATIONS: tuple[tuple[int, str, Callable[[], None]], ...] = (
    (1, "event log", m01_event_log.apply),
    (2, "stations, installations, data keys", m02_stations_and_keys.apply),
    (3, "registrations, certificates, trust anchors, revocations, audit", m03_trust.apply),
    (4, "operator accounts, local credentials, replaced installations", m04_operators.apply),
    (5, "applications and their material scans", m05_applications.apply),
    (6, "published catalogues and holiday tables, deadline marks, the queue's index", m06_reference_data.apply),
    (7, "sync links and request nonces", m07_sync_links.apply),
    (8, "seal orders, seals, their uses and PIN locks", m08_seals.apply),
    (9, "application statistics, dates and tallies; children's last contact", m09_statistics.apply),
    (10, "fork evidence", m10_forks.apply),
    (
        11,
        "no index of applications by station alone; event statuses indexed where not applied",
        m11_leaner_indexes.apply,
    ),
    (12, "session epochs of local credentials", m12_session_epochs.apply),
    (13, "how far the parent's clock is from ours, as it last told us", m13_link_clock_offset.apply),
    (14, "applications' query codes, ID tail checks and masked names", m14_query_codes.apply),
    (15, "好差评 grades and reasons on applications; one-time rating tokens", m15_ratings.apply),
    (16, "operators' staff numbers (工号), printed beside their names", m16_staff_numbers.apply),
    (17, "the county hub's outbox of SMS notices", m17_notices.apply),
    (18, "scan cursors", m18_scan_cursors.apply),
    (19, "operators' mobile numbers, for deadline reminders", m19_operator_phones.apply),
    (20, "差评整改 cases; monthly 办件回访 samples and their calls", m20_rectifications.apply),
    (21, "容缺: what an application owes and by when; deferred cases in the statistics", m21_deferrals.apply),
    (22, "一件事 cases: each application names its case", m22_bundle_cases.apply),
    (23, "跨区域通办: the county that handles an application filed in another county", m23_cross_region.apply),
    (24, "a city hub's records of applications forwarded to the province", m24_province_records.apply),
    (25, "children's release update states", m25_update_states.apply),
    (26, "the event log by stream and arrival, for a child's pull", m26_stream_arrival.apply),
)
LATEST = MIGRATIONS[-1][0]


def current_version() -> int:
    if not db.table_exists("schema_version"):
        return 0
    return _SchemaVersion.select(pw.fn.MAX(_SchemaVersion.version)).scalar() or 0


def migrate(target: int = LATEST) -> list[int]:
    """Apply pending migrations up to `target`, each in its own transaction; return those applied."""
    refuse_newer()
    db.create_tables([_SchemaVersion])
    applied = []
    for version, name, step in MIGRATIONS:
        if current_version() < version <= target:
            with write_transaction():
                step()
                _SchemaVersion.create(version=version, name=name)
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
