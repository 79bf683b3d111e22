"""Deciding stored events again: after an upgrade (deferred types now known), when trust vouches for
quarantined work, when our clock reaches events dated ahead of it, and a rebuild of every projection.
"""

from __future__ import annotations

from storage.models import (
    EventRecord,
    unsettled,
)
from sync.event import Event
from sync.hlc import AHEAD_OF_OUR_CLOCK
from sync.log.state import APPLIED, DEFERRED, PENDING, QUARANTINED, SETTLED, LogState, parse_rows
from sync.order import causal_order
from sync.projection import RuleViolation


class Replay(LogState):
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
            self._txn.newest.clear()  # statuses change below without `_keep`: what was read ahead is stale
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
            events, arrival_of = parse_rows(chosen)
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
            events, arrival_of = parse_rows(rows.tuples().iterator())
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
