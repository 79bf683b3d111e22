"""How a log decides each event it keeps: quarantined (trust or a broken rule), pending (a dep missing),
deferred (a type this version does not know) or applied through its projection, incrementally or by
replaying its entity; rows held back for one insert of many; pending events released once settled.
"""

from __future__ import annotations

import logging

import peewee as pw

from storage.database import savepoint
from storage.events import entity_rows, insert_event, read_ahead, settled_among
from storage.models import (
    EventRecord,
    PendingDep,
)
from sync.errors import ClockDrift, SyncError
from sync.event import Event, parse_event
from sync.hlc import timing_problem, unpack
from sync.log.state import (
    APPLIED,
    DEFERRED,
    PENDING,
    QUARANTINED,
    SETTLED,
    Decision,
    IngestReceipt,
    LogState,
    Redo,
    WiderLock,
    row_of,
)
from sync.order import causal_order
from sync.projection import RuleViolation

log = logging.getLogger(__name__)


class Deciding(LogState):
    def _observe(self, events: list[Event]) -> bool:
        """Move our clock past the events' timestamps; whether one was too far ahead to follow (each is logged).
        The newest alone moves it as far as all of them would: deciding reads the wall clock, not this one."""
        if not events:
            return False
        try:
            self.clock.observe(max(e.hlc for e in events))
            return False
        except ClockDrift:
            pass
        ahead = False
        for event in events:
            try:
                self.clock.observe(event.hlc)
            except ClockDrift:
                log.warning(
                    "clock ahead: event %s/%s/%s at hlc %s", event.origin, event.stream, event.seq, unpack(event.hlc)
                )
                ahead = True
        return ahead

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

    def _decide(self, event: Event, known: list[tuple[Event, str]] | None) -> Decision:
        """Quarantine, keep pending, defer or apply one event; runs its projection when applied."""
        reason = self._refusal(event)
        if reason:
            return Decision(QUARANTINED, reason)
        missing = self._missing_deps(event)
        if missing:
            return Decision(PENDING, missing=missing)
        if not self.registry.knows(event.type):
            return Decision(DEFERRED, "本版本尚不认识此事件类型，升级后应用")
        if known is None and self._is_last(event):
            return self._applied(event)
        if known is None:
            known = self._entity_events(event.entity)
        # Quarantined events are ordered and decided again too, as a rebuild decides them: one refused for
        # the state that the events before it made can become legal when an event that sorts before it
        # arrives later (a window accepted a case, not knowing another had asked for corrections; the
        # correction, made before the acceptance, arrives after it). Left out, the state would depend on the
        # order events arrived in.
        settled = {e.eid: (e, status) for e, status in known if status in SETTLED and e.eid != event.eid}
        order = causal_order([*(e for e, _ in settled.values()), event])
        if order[-1].eid == event.eid:
            return self._applied(event)
        return self._replay_entity(event, order, {eid: status for eid, (_, status) in settled.items()})

    def _applied(self, event: Event) -> Decision:
        try:
            self._apply(event)
        except RuleViolation as exc:
            return Decision(QUARANTINED, str(exc))
        return Decision(APPLIED)

    def _is_last(self, event: Event) -> bool:
        """Whether the event sorts after every settled (applied or quarantined) event of its entity, known
        from their greatest (hlc, eid) alone. Causal order pops the lowest (hlc, eid) among the ready events:
        each settled event, or one it waits for, is ready before the new one and lower, so the new one comes
        last (no settled event waits for it: one that named it as a dep would have been kept pending). The
        quarantined count: one that sorts after the new event is decided again (`_decide`)."""
        newest = self._txn.newest.get(event.entity)
        return newest is not None and (event.hlc, event.eid) > newest

    def _apply(self, event: Event) -> None:
        """Run the event's projection; a payload it cannot read is a broken rule like any other,
        so one malformed authentic event is quarantined instead of blocking its stream for good."""
        areas = self._txn.areas
        if areas and (self.area_of(event.stream) not in areas or not self.registry.confined(event.type)):
            raise WiderLock
        projection = self.registry.projection_for(event.type)
        if self.registry.reads_log(event.type):
            self._flush()  # what it reads of the log includes the events held back so far
        try:
            if self._txn.optimistic:
                projection.apply(event)
            else:
                with savepoint():  # a refused event leaves no half-written rows
                    projection.apply(event)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, SyncError, pw.IntegrityError) as exc:
            if self._txn.optimistic:
                raise Redo from exc
            if isinstance(exc, RuleViolation):
                raise
            raise RuleViolation(f"事件内容无法应用（{type(exc).__name__}: {exc}）") from exc

    def _replay_entity(self, event: Event, order: list[Event], statuses: dict[str, str]) -> Decision:
        """The new event sorts before events already settled: replay the entity from scratch, deciding each
        settled event again (`statuses`: how each was settled) as a rebuild would. One trust refuses stays
        quarantined without being applied; an applied one now refused is demoted, a quarantined one now
        legal is promoted."""
        for projection in {id(p): p for p in map(self.registry.projection_for, {e.type for e in order})}.values():
            projection.reset(event.entity)
        demoted, promoted, own = [], [], Decision(APPLIED)
        for item in order:
            was = statuses.get(item.eid)
            if was == QUARANTINED and self._refusal(item):
                continue
            try:
                self._apply(item)
            except RuleViolation as exc:
                if item.eid == event.eid:
                    own = Decision(QUARANTINED, str(exc))
                elif was == APPLIED:
                    demoted.append((item.eid, str(exc)))
                continue
            if was == QUARANTINED:
                promoted.append(item.eid)
        return Decision(own.status, own.reason, demoted=tuple(demoted), promoted=tuple(promoted))

    def _missing_deps(self, event: Event) -> tuple[str, ...]:
        if not event.deps:
            return ()
        settled = self._txn.settled
        unknown = [d for d in event.deps if d not in settled]
        if not unknown:
            return ()
        settled.update(settled_among(unknown, SETTLED))
        held_back = self._txn.by_entity.get(event.entity, ())  # appended in this transaction, not yet inserted
        held = {e.eid for e, status in held_back if status in SETTLED}
        return tuple(d for d in unknown if d not in settled and d not in held)

    def _entity_events(self, entity: str) -> list[tuple[Event, str]]:
        stored = [(parse_event(body), status) for body, status in entity_rows(entity)]
        return stored + self._txn.by_entity.get(entity, [])

    def _read_ahead(self, events: list[Event]) -> None:
        """What deciding these events needs from the database, in one query for the whole batch (`read_ahead`):
        their entities' newest settled events (their bodies are read only for an event that sorts before
        one), which of their deps are settled, which of them are awaited."""
        txn = self._txn
        entities = {e.entity for e in events} - txn.newest.keys()
        eids = {e.eid for e in events}
        deps = {d for e in events for d in e.deps} - txn.settled - eids  # the batch's own: not stored yet
        newest, settled, awaited = read_ahead(entities, deps, eids, SETTLED)
        txn.newest.update(dict.fromkeys(entities, (0, "")) | newest)  # flushed: all are stored
        txn.settled.update(settled)
        txn.awaited.update(awaited)

    def _keep(self, event: Event, chain: str, decision: Decision) -> None:
        """Hold the row back for one insert of many, unless its side effects need it stored now."""
        txn = self._txn
        if decision.status in SETTLED and event.entity in txn.newest:
            txn.newest[event.entity] = max(txn.newest[event.entity], (event.hlc, event.eid))
        if decision.missing or decision.demoted or decision.promoted:
            self._flush()
            self._store(event, chain, decision)
        else:
            txn.rows.append(row_of(event, chain, decision))
            txn.by_entity.setdefault(event.entity, []).append((event, decision.status))

    def _store(self, event: Event, chain: str, decision: Decision) -> None:
        self._record_side_effects(insert_event(row_of(event, chain, decision)), decision)

    def _record_side_effects(self, arrival: int, decision: Decision) -> None:
        if decision.demoted or decision.promoted:
            self._flush()  # an event a replay decided again may be held back still (one a release replays)
        if decision.missing:
            PendingDep.insert_many(
                [(arrival, dep) for dep in decision.missing], fields=[PendingDep.event, PendingDep.dep]
            ).execute()
        for eid, reason in decision.demoted:
            EventRecord.update(status=QUARANTINED, reason=reason).where(EventRecord.eid == eid).execute()
        if decision.promoted:
            EventRecord.update(status=APPLIED, reason=None).where(EventRecord.eid.in_(decision.promoted)).execute()
        if decision.demoted or decision.promoted:
            self._txn.newest.clear()  # statuses read ahead are stale now

    def _release(self, eid: str, receipt: IngestReceipt | None = None) -> None:
        """Settle the pending events that waited for `eid`, and those that waited for them."""
        queue = [eid]
        while queue:
            waiting = [row.event_id for row in PendingDep.select(PendingDep.event).where(PendingDep.dep == queue.pop())]
            if waiting:
                self._txn.newest.clear()  # statuses read ahead are stale now
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
