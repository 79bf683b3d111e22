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
from storage.events import stream_heads
from storage.models import (
    EventRecord,
    StreamHead,
    deferred_inserts,
    insert_row,
)
from sync.chain import GENESIS, SignedHead, link, verify_chain
from sync.errors import ChainError, EncodingError, ForkError, GapError, OutOfScope
from sync.event import Event, make_event, parse_event
from sync.hlc import HybridClock
from sync.log.deciding import Deciding
from sync.log.forks import Forks, check_vouched
from sync.log.heads import SignedHeads
from sync.log.replay import Replay
from sync.log.state import (
    DEFAULT_HEAD_INTERVAL,
    DEFAULT_HEAD_TTL_MS,
    FEED,
    QUARANTINED,
    SETTLED,
    Author,
    IngestReceipt,
    NotAuthorized,
    Redo,
    Txn,
    WiderLock,
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
        area_of: Callable[[str], str | None] = lambda stream: None,
    ):
        self.author = author
        self.trust = trust
        self.registry = registry
        self.clock = clock
        self.head_interval = head_interval
        self.head_ttl_ms = head_ttl_ms
        # stream -> the area of the node's own area it lies in (a county's, at a city), or None: batches of
        # different areas are applied at once (`ingest_runs`)
        self.area_of = area_of
        self._local = threading.local()  # per-thread: waitress serves requests on several
        self._forked: frozenset[str] | None = None  # origins proven to have signed two histories
        self.on_fork: Callable[[ForkError], None] | None = None  # the domain reports a fork it keeps

    @contextmanager
    def transaction(self, areas: tuple[str, ...] = ()) -> Iterator[None]:
        """One transaction; own stream heads are cached inside it and written once at its end. With `areas`,
        it writes only in these areas, beside writers of others (`write_transaction`)."""
        if getattr(self._local, "txn", None) is not None:
            yield
            return
        self._local.txn = Txn(areas=areas)
        try:
            with write_transaction(areas=areas):
                on_rollback(self.trust.forget)  # what trust and the log cached may be rolled back with it
                on_rollback(self._forget_forks)
                yield
                self._flush()
        finally:
            self._local.txn = None

    def appended_here(self) -> bool:
        """Whether the open transaction has appended an event of this installation's own."""
        return self._txn.appended

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
            self._txn.appended = True
            head.seq, head.chain = seq, chain  # only once the event is stored or held back
            if head.seq - head.signed_seq >= self.head_interval:
                self._sign(stream, head)
        return event

    def ingest(self, raws: Sequence[bytes], head: SignedHead) -> IngestReceipt:
        """Verify a batch from one (origin, stream) ending at its signed head; apply it in one transaction.

        A replayed event is a no-op, a fork or tampering is refused, a gap is refused
        with what we hold so the sender can resend from there.
        """
        return self.ingest_runs([(head, raws)])

    def ingest_runs(
        self, runs: Sequence[tuple[SignedHead, Sequence[bytes]]], allowed: Callable[[str, str], bool] | None = None
    ) -> IngestReceipt:
        """`ingest` for the runs of a batch, in one transaction. A relay is made of many small runs (a few
        events of each station heard from), and asking the database a dozen things per run was most of what
        a city spent applying them (py-spy of the city in a storm: 60% of its samples in the driver): so the
        held heads are read in one query and runs are settled together, with one read-ahead, one optimistic
        savepoint and one write per table (`_settle_runs`). A hub's feed (trust, catalogue) changes how the
        runs after it are verified and decided, so it is settled before they are read; so is a run that
        overlaps one before it. Any refusal refuses them all, as does a run of a stream `allowed` (when given)
        says the sender may not relay (`OutOfScope`).

        `receipt.held_seq` is what was held of the last run's stream before, then its head.

        A batch of streams in areas, of events whose projections are confined to their stream (`_areas`: a
        county's relay at the city), is applied beside other areas' batches; should it release an event outside
        them (`WiderLock`), it is undone and applied again holding the whole log."""
        parsed = [(head, self._parsed(raws)) for head, raws in runs]
        self._forget_forks()  # a fork reported from below may have been proven here since
        if areas := self._areas(parsed):
            try:
                return self._ingest(parsed, allowed, areas)
            except WiderLock:
                pass
        return self._ingest(parsed, allowed, ())

    def _areas(self, parsed: list[tuple[SignedHead, list[Event]]]) -> tuple[str, ...]:
        """The areas a batch writes in, if every run's stream lies in one and every event's projection writes
        only rows of its stream (`Registry.confined`); else () for the whole log."""
        areas = set()
        for head, events in parsed:
            area = self.area_of(head.stream)
            if area is None or not all(self.registry.confined(event.type) for event in events):
                return ()
            areas.add(area)
        return tuple(sorted(areas))

    def _ingest(self, parsed: list, allowed: Callable[[str, str], bool] | None, areas: tuple[str, ...]):
        receipt = IngestReceipt()
        with self.transaction(areas):
            self._flush()
            held = self._held_heads({(head.origin, head.stream) for head, _ in parsed})
            chunk, heads = [], []
            for head, events in parsed:
                stream = (head.origin, head.stream)
                if (
                    events
                    and events[0].seq <= held.get(stream, (0,))[0]
                    and any((h.origin, h.stream) == stream for h in heads)
                ):
                    self._settle_runs(chunk, heads, receipt)  # the overlap is checked against what is stored
                    chunk, heads = [], []
                if allowed is not None and not allowed(head.origin, head.stream):
                    raise OutOfScope(f"对方无权转发 {head.origin}/{head.stream} 的事件：只能转发本站及下级站点的事件")
                if run := self._verified(head, events, held, receipt):
                    chunk.append(run)
                    heads.append(head)
                if head.stream == FEED:  # the runs after it are verified and decided with it applied
                    self._settle_runs(chunk, heads, receipt)
                    chunk, heads = [], []
            self._settle_runs(chunk, heads, receipt)
        return receipt

    def _verified(self, head: SignedHead, events: list[Event], held: dict, receipt: IngestReceipt) -> list:
        """A run's new events, verified against what is held of its stream (updated to its head)."""
        key = self.trust.verifying_key(head.origin)
        if key is None:
            raise ChainError("unknown_origin", f"安装 {head.origin} 的签名密钥未获信任，拒绝接收")
        held_seq, held_chain = held.get((head.origin, head.stream), (0, GENESIS))
        fresh = self._skip_replayed(events, head, key, held_seq, receipt)
        receipt.held_seq = held_seq
        if not fresh and head.seq <= held_seq:
            return []
        try:
            run = verify_chain(fresh, head, key, held_seq=held_seq, held_chain=held_chain)
        except GapError as exc:  # the sender resends this stream from what we hold
            exc.details = {"origin": head.origin, "stream": head.stream, "held_seq": exc.held_seq}
            raise
        self._refuse_forged(run, head)
        check_vouched(self.trust.vouched(head.origin, head.stream), run)
        held[(head.origin, head.stream)] = (head.seq, head.chain)  # a later run of the stream follows it
        receipt.held_seq = head.seq
        return run

    def _settle_runs(self, runs: list[list], heads: list[SignedHead], receipt: IngestReceipt) -> None:
        if not heads:
            return
        self._read_ahead([item.event for run in runs for item in run])
        self._settle_run(runs, receipt)
        with deferred_inserts():  # the runs' held heads and signed heads, written together
            for h in heads:
                held = {"origin": h.origin, "stream": h.stream, "seq": h.seq, "chain": h.chain}
                insert_row(StreamHead, held, replace_on=("origin", "stream"))
            self._save_signed_heads(heads)
        self._flush()  # the events are stored before a later run's checks read them

    @staticmethod
    def _parsed(raws: Sequence[bytes]) -> list[Event]:
        try:
            return [parse_event(raw) for raw in raws]
        except EncodingError as exc:
            raise ChainError("bad_event", f"收到的数据不是有效的事件（{exc}）") from exc

    @staticmethod
    def _held_heads(streams: set[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, str]]:
        """What is held of each (origin, stream): its seq and chain hash, in one query per few hundred."""
        return {(origin, stream): (seq, chain) for origin, stream, seq, chain in stream_heads(streams)}

    def _settle_run(self, runs: list[list], receipt: IngestReceipt) -> None:
        """Decide and keep verified runs. Optimistically first, in one savepoint for them all (one per event
        cost as much as the inserts on SQLite, and a round trip each on PostgreSQL); if any projection
        refuses, they are undone and decided again, run by run, the refused one one savepoint per event, so
        that only the refused event is quarantined."""
        txn = self._txn
        verified = [item for run in runs for item in run]
        before = (set(txn.settled), set(txn.awaited), dict(txn.newest), vars(receipt).copy())
        try:
            txn.optimistic = True
            with savepoint("onetrip_run"), deferred_inserts():
                self.registry.read_ahead([item.event for item in verified])  # rows read here live as long as the block
                self._settle(verified, receipt)
        except (Redo, pw.IntegrityError):  # a projection refused, or a held row broke a constraint
            txn.rows.clear()  # held back since the last flush (before these runs): undone with the savepoint
            txn.by_entity.clear()
            txn.settled, txn.awaited, txn.newest = before[:3]
            vars(receipt).update(before[3])
            txn.optimistic = False
            if len(runs) == 1:
                self._settle(verified, receipt)
                return
            for run in runs:
                self._settle_run([run], receipt)
                self._flush()  # a later run's undo must not take this one's rows with it
        finally:
            txn.optimistic = False

    def _settle(self, verified: list, receipt: IngestReceipt) -> None:
        txn = self._txn
        receipt.clock_ahead |= self._observe([item.event for item in verified])
        for item in verified:
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
