"""A log's signed heads: its own streams' heads, held per transaction and signed every
`head_interval` events or when a feed would go stale; the newest signed head of any stream.
"""

from __future__ import annotations

import peewee as pw

from storage.database import execute
from storage.events import insert_events, newest_arrival
from storage.models import (
    SignedHeadRecord,
    StreamHead,
    deferred_inserts,
    insert_row,
    upsert,
)
from sync.canonical import INT_MAX
from sync.chain import GENESIS, SignedHead, parse_head, sign_head
from sync.log.state import FEED, FEED_RENEWED, Head, LogState

# Read at the start of every round (a hub's: before every pull it answers), as plain SQL (`storage.database.execute`).
_OWN_HEADS = "SELECT stream, seq, chain FROM stream_head WHERE origin = {param}"
_LATEST_OWN_SIGNED = (
    "SELECT h.stream, h.body, h.signature FROM signed_head h JOIN (SELECT stream, MAX(seq) AS top FROM signed_head"
    " WHERE origin = {param} GROUP BY stream) newest ON h.stream = newest.stream AND h.seq = newest.top"
    " WHERE h.origin = {param}"
)


class SignedHeads(LogState):
    def sign_heads(self) -> list[SignedHead]:
        """Sign every own stream with events after its last signed head (before a sync), and re-sign
        one whose newest head is past half its lifetime: a quiet feed stays fresh, a frozen one shows.
        `heads_fresh_until_ms` says until when a call without new own events would sign nothing: when no event
        at all has arrived since the last call, in any process, nothing more is read (a station's every round
        begins here, and its idle rounds spent a sixth of their time finding nothing to sign). Not inside an open
        transaction: its own events may be held back there, not stored yet."""
        outermost = getattr(self._local, "txn", None) is None
        fresh = self.clock.clock.now_ms() < self.heads_fresh_until_ms
        if outermost and fresh and newest_arrival() == self._signed_through:
            return []
        with self.transaction():
            self._flush()
            latest = self._latest_own_heads()
            refresh_before = self.clock.clock.now_ms() + self.head_ttl_ms // 2
            signed = []
            expiries = []
            for stream, seq, chain in execute(_OWN_HEADS, self.author.origin).fetchall():
                if not self.trust.may_write(self.author.origin, stream):
                    continue  # a stream someone forged in our name (`_refuse_forged`): never ours to sign
                if stream not in self._txn.heads:
                    self._txn.heads[stream] = Head(seq, chain, latest[stream].seq if stream in latest else 0, seq)
                head = self._txn.heads[stream]
                stale = stream in latest and latest[stream].expires_at_ms < refresh_before
                if stale and stream == FEED and head.seq == head.signed_seq:
                    self.append(FEED_RENEWED, f"feed:{self.author.origin}", {}, stream=stream)
                if head.seq > head.signed_seq or stale:
                    signed.append(self._sign(stream, head))
                    expiries.append(signed[-1].expires_at_ms)
                elif stream in latest:
                    expiries.append(latest[stream].expires_at_ms)
            self.heads_fresh_until_ms = min(expiries, default=INT_MAX) - self.head_ttl_ms // 2
            through = newest_arrival()
        if outermost:  # committed: what was signed stays signed
            self._signed_through = through
        return signed

    def _latest_own_heads(self) -> dict[str, SignedHead]:
        """The newest signed head of each own stream, in one query: a hub signs before every pull it
        answers, and it has a stream per station below it."""
        rows = execute(_LATEST_OWN_SIGNED, self.author.origin, self.author.origin).fetchall()
        return {stream: parse_head(bytes(body), bytes(signature)) for stream, body, signature in rows}

    def stale_feeds(self) -> list[SignedHead]:
        """Other origins' `all` streams whose newest signed head has expired: a feed that stopped."""
        now_ms = self.clock.clock.now_ms()
        feeds = StreamHead.select().where((StreamHead.stream == FEED) & (StreamHead.origin != self.author.origin))
        heads = (self.latest_head(f.origin, f.stream) for f in feeds)
        return [h for h in heads if h is not None and h.expires_at_ms < now_ms]

    def _own_head(self, stream: str) -> Head:
        heads = self._txn.heads
        if stream not in heads:
            row = StreamHead.get_or_none(origin=self.author.origin, stream=stream)
            signed = (
                SignedHeadRecord.select(pw.fn.MAX(SignedHeadRecord.seq))
                .where((SignedHeadRecord.origin == self.author.origin) & (SignedHeadRecord.stream == stream))
                .scalar()
            )
            heads[stream] = Head(row.seq, row.chain, signed or 0, row.seq) if row else Head(0, GENESIS, 0)
        return heads[stream]

    def _sign(self, stream: str, head: Head) -> SignedHead:
        signed = sign_head(
            self.author.key,
            origin=self.author.origin,
            stream=stream,
            seq=head.seq,
            chain=head.chain,
            signed_at=self.clock.now(),
            expires_at_ms=self.clock.clock.now_ms() + self.head_ttl_ms,
        )
        self._save_signed_heads([signed])
        head.signed_seq = head.seq
        return signed

    def _flush(self) -> None:
        """Write the rows held back by this transaction: appended events, then own heads."""
        txn = self._txn
        if txn.rows:
            insert_events(txn.rows)
            txn.rows.clear()
            txn.by_entity.clear()
        for stream, head in txn.heads.items():
            if head.seq != head.stored_seq:
                upsert(StreamHead, origin=self.author.origin, stream=stream, seq=head.seq, chain=head.chain)
                head.stored_seq = head.seq

    def _save_signed_heads(self, heads: list[SignedHead]) -> None:
        with deferred_inserts():
            for h in heads:
                signed = {
                    "origin": h.origin,
                    "stream": h.stream,
                    "seq": h.seq,
                    "chain": h.chain,
                    "body": h.body,
                    "signature": h.signature,
                }
                insert_row(SignedHeadRecord, signed, replace_on=("origin", "stream", "seq"))

    def latest_head(self, origin: str, stream: str) -> SignedHead | None:
        row = (
            SignedHeadRecord.select()
            .where((SignedHeadRecord.origin == origin) & (SignedHeadRecord.stream == stream))
            .order_by(SignedHeadRecord.seq.desc())
            .first()
        )
        return parse_head(bytes(row.body), bytes(row.signature)) if row else None
