"""The event log: local appends, verified ingest, pending and quarantine, replay.

Every write happens in one transaction with the rows it changes. Events are kept
as the bytes that were hashed and signed, numbered in arrival order. Status of a
stored event: `applied`; `pending` (a dep has not arrived); `quarantined`
(authentic, but its origin may not make it or it breaks a rule: kept with the
reason for a person); `deferred` (a type this version does not know: kept,
verified, relayed, applied after an upgrade).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import peewee as pw

from storage.database import on_rollback, savepoint, write_transaction
from storage.models import (
    EventRecord,
    StreamHead,
    deferred_inserts,
    upsert,
)
from sync.chain import GENESIS, SignedHead, link, verify_chain
from sync.errors import ChainError, EncodingError, ForkError
from sync.event import Event, make_event, parse_event
from sync.hlc import HybridClock
from sync.log.deciding import Deciding
from sync.log.forks import Forks, check_vouched
from sync.log.heads import SignedHeads
from sync.log.replay import Replay
from sync.log.state import (
    DEFAULT_HEAD_INTERVAL,
    DEFAULT_HEAD_TTL_MS,
    QUARANTINED,
    SETTLED,
    Author,
    IngestReceipt,
    NotAuthorized,
    Redo,
    Txn,
)
from sync.order import frontier
from sync.projection import Registry, RuleViolation
from sync.trust import Trust


class EventLog(SignedHeads, Forks, Deciding, Replay):
    def __init__(
        self,
        author: Author,
        trust: Trust,
        registry: Registry,
        clock: HybridClock,
        *,
        head_interval: int = DEFAULT_HEAD_INTERVAL,
        head_ttl_ms: int = DEFAULT_HEAD_TTL_MS,
    ):
        self.author = author
        self.trust = trust
        self.registry = registry
        self.clock = clock
        self.head_interval = head_interval
        self.head_ttl_ms = head_ttl_ms
        self._local = threading.local()  # per-thread: waitress serves requests on several
        self._forked: frozenset[str] | None = None  # origins proven to have signed two histories
        self.on_fork: Callable[[ForkError], None] | None = None  # the domain reports a fork it keeps

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction; own stream heads are cached inside it and written once at its end."""
        if getattr(self._local, "txn", None) is not None:
            yield
            return
        self._local.txn = Txn()
        try:
            with write_transaction():
                on_rollback(self.trust.forget)  # what trust and the log cached may be rolled back with it
                on_rollback(self._forget_forks)
                yield
                self._flush()
        finally:
            self._local.txn = None

    def resume(self) -> None:
        """After a start: no timestamp we issue may be lower than one we issued before.

        Only our own events count: a remote clock far ahead was refused by `observe`
        and must not drag ours along after a restart.
        """
        last = (
            EventRecord.select(pw.fn.MAX(EventRecord.hlc)).where(EventRecord.origin == self.author.origin).scalar() or 0
        )
        with self.clock._lock:
            self.clock.last = max(self.clock.last, last)

    def append(
        self,
        type: str,
        entity: str,
        payload: dict[str, Any],
        *,
        stream: str,
        deps: Sequence[str] | None = None,
        hlc: int | None = None,
    ) -> Event:
        """Write one local event and, through its projection, the rows it changes.

        An event this installation may not make raises `NotAuthorized`, one its
        projection refuses raises `RuleViolation`; either way nothing is written.
        `hlc` is a timestamp this log's clock issued inside the same transaction, for a caller
        whose payload must agree with it (an application number carries the day it is filed on).
        """
        with self.transaction():
            head = self._own_head(stream)
            seq = head.seq + 1
            reason = self.trust.authorize(self.author.origin, stream, seq, type)
            if reason:
                raise NotAuthorized(reason)
            known = self._entity_events(entity)
            if deps is None:
                deps = frontier(e for e, status in known if status in SETTLED)
            event = make_event(
                origin=self.author.origin,
                stream=stream,
                seq=seq,
                hlc=self.clock.now() if hlc is None else hlc,
                type=type,
                entity=entity,
                payload=payload,
                deps=deps,
            )
            decision = self._decide(event, known)
            if decision.status == QUARANTINED:  # our own event breaks a rule: refuse it, write nothing
                raise RuleViolation(decision.reason)
            chain = link(head.chain, event.eid)
            self._keep(event, chain, decision)
            head.seq, head.chain = seq, chain  # only once the event is stored or held back
            if head.seq - head.signed_seq >= self.head_interval:
                self._sign(stream, head)
        return event

    def ingest(self, raws: Sequence[bytes], head: SignedHead) -> IngestReceipt:
        """Verify a batch from one (origin, stream) ending at its signed head; apply it in one transaction.

        A replayed event is a no-op, a fork or tampering is refused, a gap is refused
        with what we hold so the sender can resend from there.
        """
        key = self.trust.verifying_key(head.origin)
        if key is None:
            raise ChainError("unknown_origin", f"安装 {head.origin} 的签名密钥未获信任，拒绝接收")
        try:
            events = [parse_event(raw) for raw in raws]
        except EncodingError as exc:
            raise ChainError("bad_event", f"收到的数据不是有效的事件（{exc}）") from exc
        receipt = IngestReceipt()
        self._forget_forks()  # a fork reported from below may have been proven here since
        with self.transaction():
            self._flush()
            held = StreamHead.get_or_none(origin=head.origin, stream=head.stream)
            held_seq, held_chain = (held.seq, held.chain) if held else (0, GENESIS)
            fresh = self._skip_replayed(events, head, key, held_seq, receipt)
            receipt.held_seq = held_seq
            if not fresh and head.seq <= held_seq:
                return receipt
            verified = verify_chain(fresh, head, key, held_seq=held_seq, held_chain=held_chain)
            self._refuse_forged(verified, head)
            check_vouched(self.trust.vouched(head.origin, head.stream), verified)
            self._read_ahead([item.event for item in verified])
            self._settle_run(verified, receipt)
            upsert(StreamHead, origin=head.origin, stream=head.stream, seq=head.seq, chain=head.chain)
            self._save_signed_head(head)
            receipt.held_seq = head.seq
        return receipt

    def _settle_run(self, verified: list, receipt: IngestReceipt) -> None:
        """Decide and keep a verified run. Optimistically first, in one savepoint for the whole run
        (one per event cost as much as the inserts on SQLite, and a round trip each on PostgreSQL);
        if any projection refuses, the run is undone and decided again one savepoint per event, so
        that only the refused event is quarantined."""
        txn = self._txn
        before = (set(txn.settled), set(txn.awaited), {k: list(v) for k, v in txn.stored.items()}, vars(receipt).copy())
        try:
            txn.optimistic = True
            with savepoint("onetrip_run"), deferred_inserts():
                self.registry.read_ahead([item.event for item in verified])  # rows read here live as long as the block
                self._settle(verified, receipt)
        except (Redo, pw.IntegrityError):  # a projection refused, or a held row broke a constraint
            txn.rows.clear()  # held back since the flush that began this ingest: undone with the savepoint
            txn.by_entity.clear()
            txn.settled, txn.awaited, txn.stored = before[0], before[1], before[2]
            vars(receipt).update(before[3])
            txn.optimistic = False
            self._settle(verified, receipt)
        finally:
            txn.optimistic = False

    def _settle(self, verified: list, receipt: IngestReceipt) -> None:
        txn = self._txn
        for item in verified:
            receipt.clock_ahead |= self._observe(item.event)
            decision = self._decide(item.event, None)
            self._keep(item.event, item.chain, decision)
            receipt.count(decision.status)
            txn.awaited.update(decision.missing)
            if decision.status in SETTLED:
                txn.settled.add(item.event.eid)
                if item.event.eid in txn.awaited:
                    self._release(item.event.eid, receipt)

    def events_of(self, origin: str, stream: str, after_seq: int = 0, upto_seq: int | None = None) -> list[bytes]:
        query = EventRecord.select(EventRecord.body).where(
            (EventRecord.origin == origin) & (EventRecord.stream == stream) & (EventRecord.seq > after_seq)
        )
        if upto_seq is not None:
            query = query.where(EventRecord.seq <= upto_seq)
        return [bytes(body) for (body,) in query.order_by(EventRecord.seq).tuples()]

    def events_after(self, arrival: int, limit: int) -> list[EventRecord]:
        """Everything stored after a cursor, in arrival order: one indexed range query."""
        return list(
            EventRecord.select().where(EventRecord.arrival > arrival).order_by(EventRecord.arrival).limit(limit)
        )
