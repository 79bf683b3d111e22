"""A log's defence against two histories: a replayed event must be the very bytes held, one signed
differently by the same key is a fork (proof kept, origin quarantined from then on), and events signed
with our own key that we could never have written are refused as one.
"""

from __future__ import annotations

from storage.models import (
    EventRecord,
    ForkEvidence,
    insert_row,
    utcnow,
)
from sync.chain import GENESIS, SignedHead, verify_chain
from sync.errors import ChainError, ForkError
from sync.event import Event, parse_event
from sync.log.state import IngestReceipt, LogState


class Forks(LogState):
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
            receipt.replayed += len(replayed)
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
        self._forget_forks()

    def _forget_forks(self) -> None:
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


def check_vouched(vouched: tuple[int, str | None] | None, verified: list) -> None:
    """A revoked installation's history up to what its county vouched for must be the history the
    county saw: a thief holding the key cannot feed another one to a node that had not seen it."""
    if vouched is None or vouched[1] is None:
        return
    seq, chain = vouched
    for item in verified:
        if item.event.seq == seq and item.chain != chain:
            raise ChainError("fork", f"{item.event.origin}/{item.event.stream} 第 {seq} 号事件与县级担保的不同：已拒绝")
