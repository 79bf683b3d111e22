"""Every table, by area, and the write-behind rows of projections' hot paths; the names callers import.

`base`: the base model and schema versions. `log`: the event log. `trust`: stations, installations,
certificates, operators. `cases`: applications and what hangs off them. `links`: sync bookkeeping.
`seals`: electronic seals. `followup`: 差评整改 cases and 办件回访 samples. `rows`: `insert_row`, `get_row`,
`update_row`, `deferred_inserts()`, the one adapter over peewee's internals.
"""

from .base import BaseModel, SchemaVersion, utcnow
from .cases import (
    Application,
    Attachment,
    DeadlineMark,
    Notice,
    ProvinceRecord,
    RatingToken,
    ReferenceData,
    ScanCursor,
    Statistic,
)
from .followup import Callback, CallbackSample, Rectification
from .links import Contact, ForkEvidence, RequestNonce, SyncLink
from .log import DataKey, EventRecord, PendingDep, SignedHeadRecord, StreamHead, unsettled
from .rows import (
    add_amounts,
    deferred_inserts,
    forget_rows,
    get_row,
    insert_row,
    read_rows,
    row_values,
    select_rows,
    table_name,
    update_row,
    upsert,
    upsert_many,
)
from .seals import Seal, SealLock, SealOrder, SealUse
from .trust import (
    AuditEntry,
    Certificate,
    Credential,
    Installation,
    Operator,
    Registration,
    Replacement,
    Revocation,
    Station,
    TrustAnchor,
)

__all__ = [
    "Application",
    "Attachment",
    "AuditEntry",
    "BaseModel",
    "Callback",
    "CallbackSample",
    "Certificate",
    "Contact",
    "Credential",
    "DataKey",
    "DeadlineMark",
    "EventRecord",
    "ForkEvidence",
    "Installation",
    "Operator",
    "PendingDep",
    "ReferenceData",
    "Notice",
    "ProvinceRecord",
    "ScanCursor",
    "RatingToken",
    "Rectification",
    "Registration",
    "Replacement",
    "RequestNonce",
    "Revocation",
    "SchemaVersion",
    "Seal",
    "SealLock",
    "SealOrder",
    "SealUse",
    "SignedHeadRecord",
    "Station",
    "Statistic",
    "StreamHead",
    "SyncLink",
    "TrustAnchor",
    "add_amounts",
    "deferred_inserts",
    "forget_rows",
    "get_row",
    "insert_row",
    "read_rows",
    "select_rows",
    "row_values",
    "unsettled",
    "table_name",
    "update_row",
    "upsert",
    "upsert_many",
    "utcnow",
]
