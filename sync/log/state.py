"""The event log's shared state and values: statuses, the open transaction, a decision."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sync.errors import ForkError, SyncError
from sync.event import Event, parse_event
from sync.hlc import HybridClock
from sync.keys import SigningKey
from sync.projection import Registry
from sync.trust import Trust

APPLIED, PENDING, QUARANTINED, DEFERRED = "applied", "pending", "quarantined", "deferred"
# A dep is satisfied once it is settled; a quarantined event never blocks those behind it.
SETTLED = (APPLIED, QUARANTINED)

DEFAULT_HEAD_INTERVAL = 256
DEFAULT_HEAD_TTL_MS = 7 * 24 * 3600 * 1000
FEED = "all"  # a hub's stream for everything below it: its signed head's expiry shows a frozen feed
# Appended to a quiet feed before its head is re-signed: a head at a seq the receivers hold already would
# never travel (a delta carries events), so the fresh signature rides on one small event.
FEED_RENEWED = "trust.feed_renewed"


class NotAuthorized(SyncError):
    """This installation may not make this event (a village cannot approve)."""

    code = "not_authorized"


@dataclass(frozen=True)
class Author:
    """The local installation: the origin of the events it writes and the key that signs its heads."""

    origin: str
    key: SigningKey


@dataclass
class IngestReceipt:
    applied: int = 0
    pending: int = 0
    quarantined: int = 0
    deferred: int = 0
    replayed: int = 0
    released: int = 0  # events that waited as pending and were settled by this batch
    held_seq: int = 0
    clock_ahead: bool = False

    def count(self, status: str) -> None:
        setattr(self, status, getattr(self, status) + 1)


@dataclass
class Head:
    seq: int
    chain: str
    signed_seq: int
    stored_seq: int = 0  # what the stream_head row says: an unchanged head is not written again


@dataclass
class Txn:
    """What one open transaction holds back until it ends: own stream heads and appended rows.

    Appended events are inserted in one `executemany` at the end (or before any
    query that must see them): one INSERT per event cost more than all the rest
    of an append.
    """

    heads: dict[str, Head] = field(default_factory=dict)
    rows: list[tuple] = field(default_factory=list)
    by_entity: dict[str, list[tuple[Event, str]]] = field(default_factory=dict)
    # Read ahead for a whole batch, so that applying it asks the database nothing per event:
    # entity -> the greatest (hlc, eid) among its settled events, stored or held back; (0, "") for none. An
    # event beyond it is last in causal order, so deciding it reads none of the entity's events (`_is_last`)
    newest: dict[str, tuple[int, str]] = field(default_factory=dict)
    settled: set[str] = field(default_factory=set)  # eids known applied or quarantined (never reverts)
    awaited: set[str] = field(default_factory=set)  # eids some pending event waits for
    optimistic: bool = False  # applying a run in one savepoint: a refusal undoes the run (`Redo`)
    appended: bool = False  # an event of this installation's own was appended
    areas: tuple[str, ...] = ()  # the areas it holds (`storage.database.write_transaction`); () the whole log


class Redo(Exception):
    """A projection refused an event while a run was applied optimistically: undo it, go one by one."""


class WiderLock(Exception):
    """A transaction of areas met an event to apply outside them (a pending event another area's batch
    released): undo it, and apply the batch again holding the whole log."""


@dataclass(frozen=True)
class Decision:
    status: str
    reason: str | None = None
    missing: tuple[str, ...] = ()
    demoted: tuple[tuple[str, str], ...] = field(default=())  # earlier events a replay quarantined
    promoted: tuple[str, ...] = field(default=())  # quarantined events a replay applied: now legal in causal order


class LogState:
    """What every part of the log shares: who writes, whom it trusts, where events are projected, the
    clock, and the open transaction of this thread (`Txn`)."""

    author: Author
    trust: Trust
    registry: Registry
    clock: HybridClock
    head_interval: int
    head_ttl_ms: int
    area_of: Callable[[str], str | None]
    heads_fresh_until_ms: int = 0  # set by `sign_heads`: until then, only new own events need signing
    _signed_through: int | None = None  # the newest arrival when `sign_heads` last committed
    on_fork: Callable[[ForkError], None] | None
    _local: threading.local
    _forked: frozenset[str] | None

    @property
    def _txn(self) -> Txn:
        return self._local.txn


def row_of(event: Event, chain: str, decision: Decision) -> tuple:
    return (
        event.eid,
        event.origin,
        event.stream,
        event.seq,
        event.hlc,
        event.type,
        event.entity,
        event.raw,
        chain,
        decision.status,
        decision.reason,
    )


def parse_rows(rows) -> tuple[list[Event], dict[str, int]]:
    """Parse `(arrival, body)` rows; return the events and each one's arrival number by eid."""
    events, arrival_of = [], {}
    for arrival, body in rows:
        event = parse_event(bytes(body))
        events.append(event)
        arrival_of[event.eid] = arrival
    return events, arrival_of
