"""The event log: local appends, verified ingest, pending and quarantine, replay.

Every write happens in one transaction with the rows it changes. Events are kept
as the bytes that were hashed and signed, numbered in arrival order. Status of a
stored event: `applied`; `pending` (a dep has not arrived); `quarantined`
(authentic, but its origin may not make it or it breaks a rule: kept with the
reason for a person); `deferred` (a type this version does not know: kept,
verified, relayed, applied after an upgrade).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import peewee as pw

from storage.database import savepoint, write_transaction
from storage.events import awaited_among, entities_rows, entity_rows, insert_event, insert_events, settled_among
from storage.models import (
    EventRecord,
    ForkEvidence,
    PendingDep,
    SignedHeadRecord,
    StreamHead,
    deferred_inserts,
    insert_row,
    unsettled,
    upsert,
    utcnow,
)

from .chain import GENESIS, SignedHead, link, parse_head, sign_head, verify_chain
from .errors import ChainError, ClockDrift, EncodingError, ForkError, SyncError
from .event import Event, make_event, parse_event
from .hlc import AHEAD_OF_OUR_CLOCK, HybridClock, timing_problem, unpack
from .keys import SigningKey
from .order import causal_order, frontier
from .projection import Registry, RuleViolation
from .trust import Trust

log = logging.getLogger(__name__)

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
class _Head:
    seq: int
    chain: str
    signed_seq: int
    stored_seq: int = 0  # what the stream_head row says: an unchanged head is not written again


@dataclass
class _Txn:
    """What one open transaction holds back until it ends: own stream heads and appended rows.

    Appended events are inserted in one `executemany` at the end (or before any
    query that must see them): one INSERT per event cost more than all the rest
    of an append.
    """

    heads: dict[str, _Head] = field(default_factory=dict)
    rows: list[tuple] = field(default_factory=list)
    by_entity: dict[str, list[tuple[Event, str]]] = field(default_factory=dict)
    # Read ahead for a whole batch, so that applying it asks the database nothing per event:
    stored: dict[str, list[tuple[Event, str]]] = field(default_factory=dict)  # entity -> its stored events
    settled: set[str] = field(default_factory=set)  # eids known applied or quarantined (never reverts)
    awaited: set[str] = field(default_factory=set)  # eids some pending event waits for
    optimistic: bool = False  # applying a run in one savepoint: a refusal undoes the run (`_Redo`)


class _Redo(Exception):
    """A projection refused an event while a run was applied optimistically: undo it, go one by one."""


@dataclass(frozen=True)
class _Decision:
    status: str
    reason: str | None = None
    missing: tuple[str, ...] = ()
    demoted: tuple[tuple[str, str], ...] = field(default=())  # earlier events a replay quarantined


class EventLog:
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

    # -- transactions -------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction; own stream heads are cached inside it and written once at its end."""
        if getattr(self._local, "txn", None) is not None:
            yield
            return
        self._local.txn = _Txn()
        try:
            with write_transaction():
                yield
                self._flush()
        except BaseException:
            self.trust.forget()  # what it cached during the transaction may have been rolled back
            raise
        finally:
            self._local.txn = None

    @property
    def _txn(self) -> _Txn:
        return self._local.txn

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

    # -- local writes -------------------------------------------------------

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

    def sign_heads(self) -> list[SignedHead]:
        """Sign every own stream with events after its last signed head (before a sync), and re-sign
        one whose newest head is past half its lifetime: a quiet feed stays fresh, a frozen one shows."""
        with self.transaction():
            self._flush()
            latest = self._latest_own_heads()
            refresh_before = self.clock.clock.now_ms() + self.head_ttl_ms // 2
            signed = []
            for stream, seq, chain in (
                StreamHead.select(StreamHead.stream, StreamHead.seq, StreamHead.chain)
                .where(StreamHead.origin == self.author.origin)
                .tuples()
            ):
                if not self.trust.may_write(self.author.origin, stream):
                    continue  # a stream someone forged in our name (`_refuse_forged`): never ours to sign
                if stream not in self._txn.heads:
                    self._txn.heads[stream] = _Head(seq, chain, latest[stream].seq if stream in latest else 0, seq)
                head = self._txn.heads[stream]
                stale = stream in latest and latest[stream].expires_at_ms < refresh_before
                if stale and stream == FEED and head.seq == head.signed_seq:
                    self.append(FEED_RENEWED, f"feed:{self.author.origin}", {}, stream=stream)
                if head.seq > head.signed_seq or stale:
                    signed.append(self._sign(stream, head))
            return signed

    def _latest_own_heads(self) -> dict[str, SignedHead]:
        """The newest signed head of each own stream, in one query: a hub signs before every pull it
        answers, and it has a stream per station below it."""
        me = self.author.origin
        newest = (
            SignedHeadRecord.select(SignedHeadRecord.stream, pw.fn.MAX(SignedHeadRecord.seq).alias("top"))
            .where(SignedHeadRecord.origin == me)
            .group_by(SignedHeadRecord.stream)
        )
        rows = (
            SignedHeadRecord.select(SignedHeadRecord.stream, SignedHeadRecord.body, SignedHeadRecord.signature)
            .join(newest, on=(SignedHeadRecord.stream == newest.c.stream) & (SignedHeadRecord.seq == newest.c.top))
            .where(SignedHeadRecord.origin == me)
            .tuples()
        )
        return {stream: parse_head(bytes(body), bytes(signature)) for stream, body, signature in rows}

    def stale_feeds(self) -> list[SignedHead]:
        """Other origins' `all` streams whose newest signed head has expired: a feed that stopped."""
        now_ms = self.clock.clock.now_ms()
        feeds = StreamHead.select().where((StreamHead.stream == FEED) & (StreamHead.origin != self.author.origin))
        heads = (self.latest_head(f.origin, f.stream) for f in feeds)
        return [h for h in heads if h is not None and h.expires_at_ms < now_ms]

    def _own_head(self, stream: str) -> _Head:
        heads = self._txn.heads
        if stream not in heads:
            row = StreamHead.get_or_none(origin=self.author.origin, stream=stream)
            signed = (
                SignedHeadRecord.select(pw.fn.MAX(SignedHeadRecord.seq))
                .where((SignedHeadRecord.origin == self.author.origin) & (SignedHeadRecord.stream == stream))
                .scalar()
            )
            heads[stream] = _Head(row.seq, row.chain, signed or 0, row.seq) if row else _Head(0, GENESIS, 0)
        return heads[stream]

    def _sign(self, stream: str, head: _Head) -> SignedHead:
        signed = sign_head(
            self.author.key,
            origin=self.author.origin,
            stream=stream,
            seq=head.seq,
            chain=head.chain,
            signed_at=self.clock.now(),
            expires_at_ms=self.clock.clock.now_ms() + self.head_ttl_ms,
        )
        self._save_signed_head(signed)
        head.signed_seq = head.seq
        return signed

    def _flush(self) -> None:
        """Write the rows held back by this transaction: appended events, then own heads."""
        txn = self._txn
        if txn.rows:
            insert_events(txn.rows)
            txn.rows.clear()
            for entity, kept in txn.by_entity.items():
                if entity in txn.stored:
                    txn.stored[entity].extend(kept)
            txn.by_entity.clear()
        for stream, head in txn.heads.items():
            if head.seq != head.stored_seq:
                upsert(StreamHead, origin=self.author.origin, stream=stream, seq=head.seq, chain=head.chain)
                head.stored_seq = head.seq

    # -- remote events ------------------------------------------------------

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
        self._forked = None  # a fork reported from below may have been proven here since
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
            _check_vouched(self.trust.vouched(head.origin, head.stream), verified)
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
        except (_Redo, pw.IntegrityError):  # a projection refused, or a held row broke a constraint
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

    def _read_ahead(self, events: list[Event]) -> None:
        """What deciding these events needs from the database, in a few queries for the whole batch:
        their entities' stored events, which of their deps are settled, which of them are awaited."""
        txn = self._txn
        entities = {e.entity for e in events} - txn.stored.keys()
        for entity in entities:
            txn.stored[entity] = []
        for entity, body, status in entities_rows(entities):
            txn.stored[entity].append((parse_event(body), status))
        deps = {d for e in events for d in e.deps} - txn.settled
        txn.settled.update(settled_among(deps, SETTLED))
        txn.awaited.update(awaited_among({e.eid for e in events}))

    def _skip_replayed(
        self, events: list[Event], head: SignedHead, key, held_seq: int, receipt: IngestReceipt
    ) -> list[Event]:
        replayed = [e for e in events if e.seq <= held_seq]
        if replayed:
            stored = dict(
                EventRecord.select(EventRecord.seq, EventRecord.eid)
                .where(
                    (EventRecord.origin == head.origin)
                    & (EventRecord.stream == head.stream)
                    & (EventRecord.seq.in_([e.seq for e in replayed]))
                )
                .tuples()
            )
            for event in replayed:
                if stored.get(event.seq) != event.eid:
                    self._prove_fork(events, head, key, stored[event.seq], event)
            receipt.replayed = len(replayed)
        return events[len(replayed) :]

    def _prove_fork(self, events: list[Event], head: SignedHead, key, held_eid: str, other: Event) -> None:
        """A different event at a seq we hold. Only if the origin's key signed the other history is it a
        fork (`ForkError`, with the evidence); otherwise the batch was tampered with and says so."""
        first = events[0].seq
        before = GENESIS
        if first > 1:
            before = (
                EventRecord.select(EventRecord.chain)
                .where(
                    (EventRecord.origin == head.origin)
                    & (EventRecord.stream == head.stream)
                    & (EventRecord.seq == first - 1)
                )
                .scalar()
            )
        verify_chain(events, head, key, held_seq=first - 1, held_chain=before or GENESIS)
        raise ForkError(
            f"{other.origin}/{other.stream} 第 {other.seq} 号事件与已收到的不同，且都由该安装签署："
            "疑似电脑被克隆或密钥被盗用。已留存证据，停止应用该安装的事件，请县级管理员核查并吊销",
            held_eid=held_eid,
            run=tuple(e.raw for e in events if e.seq >= other.seq),
            head=head,
        )

    def _refuse_forged(self, verified: list, head: SignedHead) -> None:
        """Events signed with our own key that we could never have written (a stream we may not write, an
        event type beyond our certificate): someone holds a copy of our key. Anti-entropy offers them back
        to us once a hub has stored them; storing them would wedge our own streams, so the batch is refused
        as a fork and its proof kept and reported up like one (`keep_fork_evidence`)."""
        if head.origin != self.author.origin:
            return
        for index, item in enumerate(verified):
            event = item.event
            reason = self.trust.authorize(event.origin, event.stream, event.seq, event.type)
            if reason:
                raise ForkError(
                    f"收到以本机密钥签署、但本机从未写过的事件（{event.stream} 流第 {event.seq} 号：{reason}）："
                    "疑似本机密钥被盗用。已拒收并留存证据，已报告县级，请县级管理员核查并吊销",
                    held_eid="",  # nothing of ours stands there: we never wrote that seq
                    run=tuple(v.event.raw for v in verified[index:]),
                    head=head,
                )

    def keep_fork_evidence(self, fork: ForkError) -> None:
        """In a transaction of its own: the refused batch was rolled back, the proof stays."""
        other = parse_event(fork.other)
        with self.transaction():
            insert_row(
                ForkEvidence,
                {
                    "origin": other.origin,
                    "stream": other.stream,
                    "seq": other.seq,
                    "held_eid": fork.held_eid,
                    "other_eid": other.eid,
                    "other_body": fork.other,
                    "head_body": fork.head.body,
                    "head_signature": fork.head.signature,
                    "found_at": utcnow(),
                },
                replace_on=("origin", "stream", "seq", "other_eid"),
            )
            if self.on_fork is not None:
                self.on_fork(fork)
        self._forked = None

    def _forked_reason(self, origin: str) -> str | None:
        """An installation caught signing two histories: its events are kept, quarantined, never applied."""
        if origin == self.author.origin:
            return None  # our own history is the one we wrote; a forgery in our name is refused on arrival
        if self._forked is None:
            self._forked = frozenset(row.origin for row in ForkEvidence.select(ForkEvidence.origin).distinct())
        if origin in self._forked:
            return f"安装 {origin} 签署过两份不同的事件历史（疑似克隆）：其事件暂停应用，等待县级核查"
        return None

    def _observe(self, event: Event) -> bool:
        try:
            self.clock.observe(event.hlc)
            return False
        except ClockDrift:
            log.warning(
                "clock ahead: event %s/%s/%s at hlc %s", event.origin, event.stream, event.seq, unpack(event.hlc)
            )
            return True

    # -- deciding and applying ----------------------------------------------

    def _refusal(self, event: Event) -> str | None:
        """Why trust alone quarantines an event, whatever its projection would say: its origin signed two
        histories, may not make it, or dates it where no honest clock could (invariant 11)."""
        reason = self._forked_reason(event.origin) or self.trust.authorize(
            event.origin, event.stream, event.seq, event.type
        )
        if reason or event.origin == self.author.origin:
            return reason
        return timing_problem(
            event.hlc, self.trust.valid_from_ms(event.origin, event.stream), self.clock.clock.now_ms()
        )

    def _decide(self, event: Event, known: list[tuple[Event, str]] | None) -> _Decision:
        """Quarantine, keep pending, defer or apply one event; runs its projection when applied."""
        reason = self._refusal(event)
        if reason:
            return _Decision(QUARANTINED, reason)
        missing = self._missing_deps(event)
        if missing:
            return _Decision(PENDING, missing=missing)
        if not self.registry.knows(event.type):
            return _Decision(DEFERRED, "本版本尚不认识此事件类型，升级后应用")
        if known is None:
            known = self._entity_events(event.entity)
        applied = [e for e, status in known if status == APPLIED and e.eid != event.eid]
        order = causal_order([*applied, event])
        if order[-1].eid == event.eid:
            try:
                self._apply(event)
            except RuleViolation as exc:
                return _Decision(QUARANTINED, str(exc))
            return _Decision(APPLIED)
        return self._replay_entity(event, order)

    def _apply(self, event: Event) -> None:
        """Run the event's projection; a payload it cannot read is a broken rule like any other,
        so one malformed authentic event is quarantined instead of blocking its stream for good."""
        projection = self.registry.projection_for(event.type)
        try:
            if self._txn.optimistic:
                projection.apply(event)
            else:
                with savepoint():  # a refused event leaves no half-written rows
                    projection.apply(event)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, SyncError, pw.IntegrityError) as exc:
            if self._txn.optimistic:
                raise _Redo from exc
            if isinstance(exc, RuleViolation):
                raise
            raise RuleViolation(f"事件内容无法应用（{type(exc).__name__}: {exc}）") from exc

    def _replay_entity(self, event: Event, order: list[Event]) -> _Decision:
        """The new event sorts before events already applied: replay the entity from scratch."""
        for projection in {id(p): p for p in map(self.registry.projection_for, {e.type for e in order})}.values():
            projection.reset(event.entity)
        demoted, own = [], _Decision(APPLIED)
        for item in order:
            try:
                self._apply(item)
            except RuleViolation as exc:
                if item.eid == event.eid:
                    own = _Decision(QUARANTINED, str(exc))
                else:
                    demoted.append((item.eid, str(exc)))
        return _Decision(own.status, own.reason, demoted=tuple(demoted))

    def _missing_deps(self, event: Event) -> tuple[str, ...]:
        if not event.deps:
            return ()
        settled = self._txn.settled
        unknown = [d for d in event.deps if d not in settled]
        if unknown:
            settled.update(settled_among(unknown, SETTLED))
        held_back = self._txn.by_entity.get(event.entity, ())  # appended in this transaction, not yet inserted
        held = {e.eid for e, status in held_back if status in SETTLED}
        return tuple(d for d in event.deps if d not in settled and d not in held)

    def _entity_events(self, entity: str) -> list[tuple[Event, str]]:
        stored = self._txn.stored.get(entity)
        if stored is None:
            stored = [(parse_event(body), status) for body, status in entity_rows(entity)]
        return stored + self._txn.by_entity.get(entity, [])

    def _keep(self, event: Event, chain: str, decision: _Decision) -> None:
        """Hold the row back for one insert of many, unless its side effects need it stored now."""
        txn = self._txn
        if decision.missing or decision.demoted:
            self._flush()
            self._store(event, chain, decision)
            if event.entity in txn.stored:
                txn.stored[event.entity].append((event, decision.status))
        else:
            txn.rows.append(_row(event, chain, decision))
            txn.by_entity.setdefault(event.entity, []).append((event, decision.status))

    def _store(self, event: Event, chain: str, decision: _Decision) -> None:
        self._record_side_effects(insert_event(_row(event, chain, decision)), decision)

    def _record_side_effects(self, arrival: int, decision: _Decision) -> None:
        if decision.missing:
            PendingDep.insert_many(
                [(arrival, dep) for dep in decision.missing], fields=[PendingDep.event, PendingDep.dep]
            ).execute()
        for eid, reason in decision.demoted:
            EventRecord.update(status=QUARANTINED, reason=reason).where(EventRecord.eid == eid).execute()
        if decision.demoted:
            self._txn.stored.clear()  # statuses read ahead are stale now

    def _release(self, eid: str, receipt: IngestReceipt | None = None) -> None:
        """Settle the pending events that waited for `eid`, and those that waited for them."""
        queue = [eid]
        while queue:
            waiting = [row.event_id for row in PendingDep.select(PendingDep.event).where(PendingDep.dep == queue.pop())]
            if waiting:
                self._txn.stored.clear()  # statuses read ahead are stale now
            for arrival in waiting:
                PendingDep.delete().where(PendingDep.event == arrival).execute()
                record = EventRecord.get_by_id(arrival)
                event = parse_event(bytes(record.body))
                decision = self._decide(event, None)
                EventRecord.update(status=decision.status, reason=decision.reason).where(
                    EventRecord.arrival == arrival
                ).execute()
                self._record_side_effects(arrival, decision)
                if receipt is not None:
                    receipt.released += 1
                if decision.status in SETTLED:
                    queue.append(event.eid)

    # -- after an upgrade, and rebuilding -----------------------------------

    def apply_deferred(self) -> int:
        """Apply stored events whose type this version now knows; returns how many were settled."""
        return self._decide_again(unsettled(DEFERRED), lambda kind, origin, stream, seq: True)

    def readmit_vouched(self) -> int:
        """Decide again the quarantined events that trust now vouches for (a county that revoked an
        installation can vouch for honest work it queued offline before the theft); returns how many."""
        vouched = {}

        def wanted(kind: str, origin: str, stream: str, seq: int) -> bool:
            if (origin, stream) not in vouched:
                vouched[origin, stream] = self.trust.vouched(origin, stream)
            held = vouched[origin, stream]
            return held is not None and seq <= held[0]

        return self._decide_again(unsettled(QUARANTINED), wanted)

    def readmit_on_time(self) -> int:
        """Decide again the events quarantined for a time far ahead of our clock (a PC whose date was wrong
        when it filed): once our clock has come near enough, they are decided as if they had just arrived,
        so a resident's application is not held for ever by a clock that has since been put right. Those
        still too far ahead stay quarantined with their reason; returns how many were decided again."""
        ahead = unsettled(QUARANTINED) & EventRecord.reason.contains(AHEAD_OF_OUR_CLOCK)
        return self._decide_again(ahead, lambda kind, origin, stream, seq: True)

    def _decide_again(self, where, wanted) -> int:
        with self.transaction():
            self._flush()
            rows = EventRecord.select(
                EventRecord.arrival,
                EventRecord.type,
                EventRecord.origin,
                EventRecord.stream,
                EventRecord.seq,
                EventRecord.body,
            ).where(where)
            chosen = (
                (arrival, body)
                for arrival, kind, origin, stream, seq, body in rows.tuples()
                if self.registry.knows(kind) and wanted(kind, origin, stream, seq)
            )
            events, arrival_of = _parse_rows(chosen)
            for event in causal_order(events):
                arrival = arrival_of[event.eid]
                decision = self._decide(event, None)
                EventRecord.update(status=decision.status, reason=decision.reason).where(
                    EventRecord.arrival == arrival
                ).execute()
                self._record_side_effects(arrival, decision)
                if decision.status in SETTLED:
                    self._release(event.eid)
            return len(events)

    def rebuild(self) -> dict[str, int]:
        """Drop every projected row and replay all settled events in causal order.

        Events themselves are never touched (unsent local work cannot be lost);
        each event's status is decided afresh, as if it had just arrived.
        """
        counts = {APPLIED: 0, QUARANTINED: 0, DEFERRED: 0}
        with self.transaction():
            self._flush()
            for projection in self.registry.projections:
                projection.reset(None)
            rows = EventRecord.select(EventRecord.arrival, EventRecord.body).where(EventRecord.status != PENDING)
            events, arrival_of = _parse_rows(rows.tuples().iterator())
            for event in causal_order(events):
                status, reason = self._rebuild_one(event)
                counts[status] += 1
                EventRecord.update(status=status, reason=reason).where(
                    EventRecord.arrival == arrival_of[event.eid]
                ).execute()
        return counts

    def _rebuild_one(self, event: Event) -> tuple[str, str | None]:
        reason = self._refusal(event)
        if reason:
            return QUARANTINED, reason
        if not self.registry.knows(event.type):
            return DEFERRED, "本版本尚不认识此事件类型，升级后应用"
        try:
            self._apply(event)
        except RuleViolation as exc:
            return QUARANTINED, str(exc)
        return APPLIED, None

    # -- reading ------------------------------------------------------------

    def _save_signed_head(self, head: SignedHead) -> None:
        upsert(
            SignedHeadRecord,
            origin=head.origin,
            stream=head.stream,
            seq=head.seq,
            chain=head.chain,
            body=head.body,
            signature=head.signature,
        )

    def latest_head(self, origin: str, stream: str) -> SignedHead | None:
        row = (
            SignedHeadRecord.select()
            .where((SignedHeadRecord.origin == origin) & (SignedHeadRecord.stream == stream))
            .order_by(SignedHeadRecord.seq.desc())
            .first()
        )
        return parse_head(bytes(row.body), bytes(row.signature)) if row else None

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


def _check_vouched(vouched: tuple[int, str | None] | None, verified: list) -> None:
    """A revoked installation's history up to what its county vouched for must be the history the
    county saw: a thief holding the key cannot feed another one to a node that had not seen it."""
    if vouched is None or vouched[1] is None:
        return
    seq, chain = vouched
    for item in verified:
        if item.event.seq == seq and item.chain != chain:
            raise ChainError("fork", f"{item.event.origin}/{item.event.stream} 第 {seq} 号事件与县级担保的不同：已拒绝")


def _row(event: Event, chain: str, decision: _Decision) -> tuple:
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


def _parse_rows(rows) -> tuple[list[Event], dict[str, int]]:
    """Parse `(arrival, body)` rows; return the events and each one's arrival number by eid."""
    events, arrival_of = [], {}
    for arrival, body in rows:
        event = parse_event(bytes(body))
        events.append(event)
        arrival_of[event.eid] = arrival
    return events, arrival_of
