"""Builders of signed chains for tests: a stream of events from one origin and its signed head."""

from __future__ import annotations

from sync.chain import GENESIS, SignedHead, link, sign_head
from sync.event import Event, make_event
from sync.keys import SigningKey


def build_chain(
    key: SigningKey, payloads: list[dict], *, origin: str = "i-village", stream: str = "511302001001"
) -> tuple[list[Event], SignedHead]:
    events, chain = [], GENESIS
    for seq, payload in enumerate(payloads, start=1):
        event = make_event(
            origin=origin,
            stream=stream,
            seq=seq,
            hlc=(1_795_000_000_000 << 16) + seq,
            type="application.filed",
            entity=f"app-{seq % 3}",
            payload=payload,
        )
        chain = link(chain, event.eid)
        events.append(event)
    head = sign_head(key, origin=origin, stream=stream, seq=len(events), chain=chain, signed_at=1, expires_at_ms=2**41)
    return events, head
