"""Anti-entropy (invariant 6): the digest of a link's scope, and what each side must resend when it differs.

The digest is each stream's `(origin, stream, seq, chain)` as `StreamHead` keeps it on every
arrival, so it costs a read of one row per stream, never a scan of events. Cursors alone miss a
side that lost what it had acknowledged (a hub restored from last night's backup, a station
from an old disk image): after a round both sides hash their view of the link's scope, and only
when the hashes differ do they compare the heads themselves. A station's purge shreds keys and
keeps its events and heads, so anti-entropy never downloads what it purged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from storage.database import execute
from storage.events import in_streams

from . import canonical
from .errors import EncodingError

Wanted = Callable[[str, str], bool]  # (origin, stream) -> whether the link's scope holds it
Head = tuple[str, str, int, str]  # origin, stream, seq, chain


@dataclass(frozen=True)
class Repairs:
    """Streams to resend, each as `(origin, stream, seq the receiving side holds)`."""

    up: tuple[tuple[str, str, int], ...] = ()  # the parent holds less: the child resends
    down: tuple[tuple[str, str, int], ...] = ()  # the child holds less: the parent resends

    def __bool__(self) -> bool:
        return bool(self.up or self.down)


def heads(in_scope: Wanted, streams: tuple[str, ...]) -> list[Head]:
    """The heads of the scope's streams held here, in a stable order.

    `streams` narrows the read to streams named so or starting so (the link's `all` and the child's
    division code), the same narrowing a pull uses; both sides must apply the same one."""
    narrowed, params = in_streams(streams)
    sql = f"SELECT origin, stream, seq, chain FROM stream_head WHERE {narrowed} ORDER BY origin, stream"
    rows = execute(sql, *params).fetchall()
    return [(origin, stream, seq, chain) for origin, stream, seq, chain in rows if in_scope(origin, stream)]


def fingerprint(held: Iterable[Head]) -> str:
    return hashlib.sha256(canonical.encode([list(h) for h in held])).hexdigest()


def differences(child: Iterable[Head], parent: Iterable[Head], sent_by_child: Wanted) -> Repairs:
    """Who resends what so that both sides hold every stream of the scope to the same head.

    A stream the child writes (its own or, as a relay, its stations') is resent by whichever side
    holds more of it: the parent after losing data, the child after being restored from an old
    copy. A stream from above is resent by the parent only: a child holding more of it than its
    parent cannot hand it up (it is not the child's to relay); the parent gets it back from its own
    parent. Two different chains at the same seq are resent from the start: the receiver then finds
    the first differing event and proves the fork."""
    theirs = {(o, s): (seq, chain) for o, s, seq, chain in parent}
    up, down = [], []
    for origin, stream, seq, chain in child:
        held_seq, held_chain = theirs.pop((origin, stream), (0, ""))
        ours = sent_by_child(origin, stream)
        if held_seq == seq and held_chain != chain:
            (up if ours else down).append((origin, stream, 0))
        elif held_seq < seq and ours:
            up.append((origin, stream, held_seq))
        elif held_seq > seq:
            down.append((origin, stream, seq))
    down.extend((origin, stream, 0) for (origin, stream) in theirs)
    return Repairs(tuple(up), tuple(down))


def to_wire(held: Iterable[Head]) -> list[list]:
    return [list(h) for h in held]


def from_wire(value) -> list[Head]:
    """Heads as a peer sent them: `(origin, stream, seq, chain)` each, or `EncodingError`."""
    return [(o, s, q, c) for o, s, q, c in _rows(value, (str, str, int, str))]


def repairs_to_wire(repairs: Repairs) -> dict:
    return {"up": [list(r) for r in repairs.up], "down": [list(r) for r in repairs.down]}


def repairs_from_wire(value) -> Repairs:
    """A parent's answer to a digest comparison, or `EncodingError`."""
    if not isinstance(value, dict):
        raise EncodingError("摘要比对的回答无法读取")
    kinds = (str, str, int)
    return Repairs(*(tuple((o, s, q) for o, s, q in _rows(value.get(k, []), kinds)) for k in ("up", "down")))


def _rows(value, kinds: tuple[type, ...]) -> list[list]:
    """Lists of exactly these kinds (ints not negative), or `EncodingError`."""
    well_formed = isinstance(value, list) and all(
        isinstance(row, list)
        and len(row) == len(kinds)
        and all(type(v) is k and (k is not int or v >= 0) for v, k in zip(row, kinds, strict=True))
        for row in value
    )
    if not well_formed:
        raise EncodingError("摘要比对的数据无法读取")
    return value
