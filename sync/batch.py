"""What one sync request carries: runs of events cut at signed heads, and their framing on the wire.

Pure. A batch is bounded in count and bytes, but a run of one stream can only end at
a signed head, so that whoever receives it (and whoever it relays to) verifies every
event against its author's signature. A link's cursor is one arrival number: a batch
moves it only as far as every event stored before the new value has been sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from . import canonical
from .chain import SignedHead, head_from_wire
from .errors import EncodingError, SyncError

FRAME_VERSION = 1
DEFAULT_MAX_EVENTS = 2000
DEFAULT_MAX_BYTES = 4 * 1024 * 1024


class BatchError(SyncError):
    """A batch whose framing does not read: refused whole, nothing applied."""

    code = "bad_batch"


class Stored(NamedTuple):
    """A stored event's header as a cursor query returns it; `size` is its length in bytes."""

    arrival: int
    origin: str
    stream: str
    seq: int
    size: int


class Run(NamedTuple):
    """Consecutive events of one (origin, stream), ending at the signed head at `last_seq`."""

    origin: str
    stream: str
    last_seq: int
    arrivals: tuple[int, ...]


@dataclass(frozen=True)
class Limits:
    max_events: int = DEFAULT_MAX_EVENTS
    max_bytes: int = DEFAULT_MAX_BYTES


DEFAULT_LIMITS = Limits()
_UNBOUNDED = Limits(max_events=2**62, max_bytes=2**62)


def plan(
    rows: Sequence[Stored],
    signed: Mapping[tuple[str, str], Sequence[int]],
    *,
    cursor: int,
    scanned_to: int,
    limits: Limits,
) -> tuple[list[Run], int]:
    """Choose the runs to send after `cursor`, and the cursor they bring the receiver to.

    `rows` are the wanted events stored after `cursor` up to `scanned_to` (unwanted ones
    in between are passed over), in arrival order; `signed` gives each stream's signed
    head seqs. The new cursor stops before the first event no signed head covers yet, so
    nothing stored before it is ever skipped.
    """
    taken, size, end = [], 0, scanned_to
    for row in rows:
        if taken and (len(taken) >= limits.max_events or size + row.size > limits.max_bytes):
            end = taken[-1].arrival
            break
        taken.append(row)
        size += row.size
    while True:
        groups = _by_stream(taken)
        cut = end
        for key, group in groups.items():
            covered = max((s for s in signed.get(key, ()) if s <= group[-1].seq), default=0)
            uncovered = next((r.arrival for r in group if r.seq > covered), None)
            if uncovered is not None:
                cut = min(cut, uncovered - 1)
        if cut == end:
            break
        end = cut
        taken = [r for r in taken if r.arrival <= end]
    if not taken and end == cursor and len(rows) > 0 and limits != _UNBOUNDED:
        # The first stream's next signed head lies past the limits: exceed them rather than stall.
        return plan(rows, signed, cursor=cursor, scanned_to=scanned_to, limits=_UNBOUNDED)
    return _runs(_by_stream(taken), signed), end


def _by_stream(rows: Sequence[Stored]) -> dict[tuple[str, str], list[Stored]]:
    groups: dict[tuple[str, str], list[Stored]] = {}
    for row in rows:
        groups.setdefault((row.origin, row.stream), []).append(row)
    return groups


def _runs(groups: Mapping[tuple[str, str], list[Stored]], signed: Mapping[tuple[str, str], Sequence[int]]) -> list[Run]:
    """Split each stream at every signed head inside it, so the receiver keeps the same cut points."""
    runs = []
    for (origin, stream), group in groups.items():
        heads = set(signed.get((origin, stream), ()))
        start = 0
        for i, row in enumerate(group):
            if row.seq in heads:
                runs.append(Run(origin, stream, row.seq, tuple(r.arrival for r in group[start : i + 1])))
                start = i + 1
    return sorted(runs, key=lambda run: run.arrivals[0])  # trust events before the events they certify


# -- on the wire ------------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    """Runs of raw events with their signed heads; `cursor` is where the receiver's link stands after it."""

    cursor: int
    runs: tuple[tuple[SignedHead, tuple[bytes, ...]], ...] = ()
    more: bool = False  # the sender stopped at a limit: ask again
    digest: str | None = None  # a pull's last answer (protocol 2): the parent's fingerprint of the child's scope

    @property
    def event_count(self) -> int:
        return sum(len(raws) for _, raws in self.runs)


def framed(parts: Sequence[bytes], manifest: dict) -> bytes:
    """Payloads in one: a canonical JSON manifest with their sizes, a newline, then the payloads
    back to back, exactly as given (events are never re-encoded or escaped)."""
    return canonical.encode({**manifest, "sizes": [len(p) for p in parts]}) + b"\n" + b"".join(parts)


def unframed(data: bytes) -> tuple[dict, list[bytes]]:
    """The manifest and the payloads; refused if the sizes do not add up (truncated or padded)."""
    end = data.find(b"\n")
    try:
        manifest = canonical.decode(data[:end]) if end > 0 else None
        sizes = manifest["sizes"]
        if not isinstance(sizes, list) or not all(type(s) is int and s > 0 for s in sizes):
            raise TypeError("sizes")
    except (EncodingError, KeyError, TypeError) as exc:
        raise BatchError("同步数据的清单无法读取：可能在传输中被截断或改动") from exc
    parts, offset = [], end + 1
    for size in sizes:
        parts.append(data[offset : offset + size])
        offset += size
    if offset != len(data):
        raise BatchError("同步数据的长度与清单不符：可能在传输中被截断或改动")
    return manifest, parts


def encode_batch(batch: Batch) -> bytes:
    manifest = {
        "v": FRAME_VERSION,
        "cursor": batch.cursor,
        "more": batch.more,
        "runs": [{"head": head.to_wire(), "count": len(raws)} for head, raws in batch.runs],
    }
    if batch.digest is not None:
        manifest["digest"] = batch.digest
    return framed([raw for _, raws in batch.runs for raw in raws], manifest)


def decode_batch(data: bytes) -> Batch:
    manifest, raws = unframed(data)
    try:
        if manifest.get("v") != FRAME_VERSION:
            raise BatchError("同步数据的格式版本不受支持")
        cursor, more, wire_runs = manifest["cursor"], manifest["more"], manifest["runs"]
        digest = manifest.get("digest")
        if (
            type(cursor) is not int
            or cursor < 0
            or type(more) is not bool
            or not isinstance(wire_runs, list)
            or not isinstance(digest, str | None)
        ):
            raise BatchError("同步数据的清单无效")
        runs, offset = [], 0
        for wire in wire_runs:
            count = wire["count"]
            if type(count) is not int or count < 1:
                raise BatchError("同步数据的清单无效")
            runs.append((head_from_wire(wire["head"]), tuple(raws[offset : offset + count])))
            offset += count
    except (EncodingError, KeyError, TypeError) as exc:
        raise BatchError(f"同步数据的清单无法读取：{exc}") from exc
    if offset != len(raws):
        raise BatchError("同步数据的事件数与清单不符")
    return Batch(cursor, tuple(runs), more, digest)
