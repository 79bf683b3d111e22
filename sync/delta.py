"""Deltas between two logs: read what to send after a cursor, apply what was received.

The sender reads headers after its cursor, keeps those the link carries (its scope),
plans runs cut at signed heads (`batch.plan`) and only then reads the bodies it sends.
The receiver applies a whole batch in one transaction: a refused run refuses the batch.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import peewee as pw

from storage.database import execute
from storage.events import bodies_of, headers_after, newest_arrival
from storage.models import EventRecord

from .batch import DEFAULT_LIMITS, Batch, Limits, Run, Stored, plan
from .chain import parse_head
from .errors import ForkError
from .log import EventLog, IngestReceipt

Wanted = Callable[[str, str], bool]  # (origin, stream) -> whether this link carries it
_SCAN_FACTOR = 4  # headers read per batch, per event it may carry: unwanted ones are passed over


def outgoing(
    cursor: int,
    wanted: Wanted,
    limits: Limits = DEFAULT_LIMITS,
    streams: tuple[str, ...] | None = None,
    top: int | None = None,
) -> Batch:
    """The next batch of wanted events stored after `cursor`, cut at signed heads.

    `streams`, when given, narrows the read in the database to streams named exactly so or starting
    with one of them (a child's division code, `all`): `wanted` still decides, but a village's pull no
    longer reads every neighbour's events to throw them away in Python. `top`, when given, is the newest
    arrival, read by the caller."""
    scan = limits.max_events * _SCAN_FACTOR
    wanted = functools.cache(wanted)  # asked per stored header, of a few streams: once each per read
    if top is None:
        top = newest_arrival()
    while True:
        rows = _headers_after(cursor, scan, top, streams)
        scanned_to = rows[-1].arrival if len(rows) == scan else max(top, cursor)
        mine = [r for r in rows if wanted(r.origin, r.stream)]
        heads = _signed_heads(mine)
        runs, end = plan(
            mine, {k: sorted(h) for k, h in heads.items()}, cursor=cursor, scanned_to=scanned_to, limits=limits
        )
        if runs or end > cursor or len(rows) < scan:
            break
        scan *= 4  # a stream's next signed head lies beyond what was read: read further
    more = len(rows) == scan or end < scanned_to
    return Batch(end, _with_bodies(runs, heads), more)


def repair(origin: str, stream: str, held_seq: int, limits: Limits = DEFAULT_LIMITS) -> Batch:
    """One stream from just after what the receiver holds (its answer to a gap), cut at signed heads."""
    rows = [
        Stored(*row)
        for row in EventRecord.select(
            EventRecord.arrival, EventRecord.origin, EventRecord.stream, EventRecord.seq, pw.fn.LENGTH(EventRecord.body)
        )
        .where((EventRecord.origin == origin) & (EventRecord.stream == stream) & (EventRecord.seq > held_seq))
        .order_by(EventRecord.seq)
        .limit(limits.max_events * _SCAN_FACTOR)
        .tuples()
    ]
    heads = _signed_heads(rows)
    runs, _ = plan(
        rows,
        {k: sorted(h) for k, h in heads.items()},
        cursor=0,
        scanned_to=rows[-1].arrival if rows else 0,
        limits=limits,
    )
    return Batch(0, _with_bodies(runs, heads))


def apply(log: EventLog, batch: Batch, allowed: Wanted | None = None) -> IngestReceipt:
    """Verify and apply every run in one transaction; any refusal leaves the database as it was.

    `allowed` refuses a run of a stream the sender may not relay (`OutOfScope`): asked of each run once the
    runs before it are applied, since a certificate in the sender's feed may make a station known.
    """
    return log.ingest_runs(batch.runs, allowed)


@contextmanager
def fork_evidence_kept(log: EventLog) -> Iterator[None]:
    """Around the outermost transaction that applies received batches: a fork refuses the batch,
    and its proof is then kept in a transaction of its own."""
    try:
        yield
    except ForkError as exc:
        log.keep_fork_evidence(exc)
        raise


def _headers_after(cursor: int, limit: int, top: int, streams: tuple[str, ...] | None) -> list[Stored]:
    return list(map(Stored._make, headers_after(cursor, limit, top, streams)))  # the driver's tuples, as they are


_SIGNED_HEADS = (
    "SELECT seq, body, signature FROM signed_head WHERE origin = {param} AND stream = {param}"
    " AND seq BETWEEN {param} AND {param}"
)


def _signed_heads(rows: Iterable[Stored]) -> dict[tuple[str, str], dict[int, tuple[bytes, bytes]]]:
    """Each stream's signed heads (body, signature by seq) within the seqs the rows span: one query per stream."""
    spans: dict[tuple[str, str], tuple[int, int]] = {}
    for row in rows:
        low, high = spans.get((row.origin, row.stream), (row.seq, row.seq))
        spans[(row.origin, row.stream)] = (min(low, row.seq), max(high, row.seq))
    heads = {}
    for (origin, stream), (low, high) in spans.items():
        found = execute(_SIGNED_HEADS, origin, stream, low, high).fetchall()
        heads[(origin, stream)] = {seq: (body, signature) for seq, body, signature in found}
    return heads


def _with_bodies(runs: list[Run], heads: dict[tuple[str, str], dict[int, tuple[bytes, bytes]]]) -> tuple:
    bodies = bodies_of([a for run in runs for a in run.arrivals])
    out = []
    for run in runs:
        body, signature = heads[(run.origin, run.stream)][run.last_seq]
        head = parse_head(bytes(body), bytes(signature))
        out.append((head, tuple(bodies[a] for a in run.arrivals)))
    return tuple(out)
