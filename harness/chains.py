"""Builders of signed chains for tests: a stream of events from one origin and its signed head."""

from __future__ import annotations

from harness.register import WRITE
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


REMOTE = "i-remote"  # the installation whose events `remote_batch` makes


def remote_batch(key, values, *, start=1, stream="s", entity="e", deps_of=None, prev=GENESIS, hlc0=1_000 << 16):
    """Events `start..` of the remote's stream, and a head signed over the last one."""
    events, chain = [], prev
    for offset, value in enumerate(values):
        seq = start + offset
        deps = deps_of(seq, events) if deps_of else []
        event = make_event(
            origin=REMOTE,
            stream=stream,
            seq=seq,
            hlc=hlc0 + seq,
            type=WRITE,
            entity=entity,
            payload={"value": value},
            deps=deps,
        )
        chain = link(chain, event.eid)
        events.append(event)
    head = sign_head(
        key, origin=REMOTE, stream=stream, seq=start + len(values) - 1, chain=chain, signed_at=1, expires_at_ms=2**40
    )
    return [e.raw for e in events], head, chain
