"""The child's side of a link: push what the parent lacks, pull what is ours, keep both cursors.

One round: sign the heads, push batches after the up-cursor until caught up (resending
a stream from what the parent holds when it answers a gap), pull batches after the
down-cursor until caught up (each applied with its new cursor in one transaction),
then pass the up-cursor over what was pulled. A failed round leaves both cursors
where the last acknowledged batch put them, so the next round resumes from there."""

from __future__ import annotations

import base64
import contextlib
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from node.context import Context
from node.link import health, scans
from node.link.status import clock_words, link_status
from provisioning.enrolment import refresh_trust
from provisioning.errors import ProvisioningError
from provisioning.recipients import issuer_station
from provisioning.scope import Scope
from storage.database import close as close_database
from storage.database import write_transaction
from storage.errors import DiskFull
from storage.events import arrivals_of, newest_arrival
from storage.models import Certificate, EventRecord, ForkEvidence, SyncLink, get_row, row_values, upsert, utcnow
from sync import canonical, delta, digest
from sync.batch import DEFAULT_LIMITS, Batch, Limits, decode_batch, encode_batch
from sync.channel import Channel, Sealed
from sync.errors import ChainError, CipherError, ClockDrift, ForkError, SyncError
from sync.request import DIGEST_CONTEXT, PULL_CONTEXT, PUSH_CONTEXT, open_body
from sync.transport import HttpTransport, Refused, Transport, Unreachable

log = logging.getLogger(__name__)


# What a round meets and records on the link, in words, for the badge and the home page: the link or the
# parent refusing, this node's certificates, and a disk too full to keep what the parent sent.
ROUND_FAILURES = (SyncError, ProvisioningError, DiskFull)


PUSH_PATH, PULL_PATH, DIGEST_PATH = "/api/v1/sync/push", "/api/v1/sync/pull", "/api/v1/sync/digest"


MAX_REPAIRS = 8  # gaps answered in one round; more means something else is wrong
MAX_RETRY_AFTER_S = 600.0  # a parent's Retry-After is taken up to this: it is not signed


class NoParent(SyncError):
    code = "no_parent"


@dataclass(frozen=True)
class RoundReport:
    pushed: int
    pulled: int
    applied: int
    up_cursor: int
    down_cursor: int
    repaired: int = 0  # streams the anti-entropy check found out of step, resent either way


@dataclass(frozen=True)
class Hub:
    """A station this node syncs with: its parent, or, while the parent cannot be reached, straight
    its county (the hub that certified it). Each has its own link and cursors; an event that reaches
    the county both ways is applied there once."""

    station: str | None
    url: str | None


def parent_of(node: Context) -> Hub:
    return Hub(node.identity.parent, node.identity.parent_url)


def county_of(node: Context) -> Hub | None:
    """The county, when it is not the parent already and its address is known."""
    station = issuer_station(node.identity)
    if station is None or station == node.identity.parent or not node.identity.issuer_url:
        return None
    return Hub(station, node.identity.issuer_url)


class Parent:
    """The hub as this node talks to it: its station, serving installation and the channel to it.

    Online, a hub certified after our enrolment is learnt from its trust feed; offline (a
    USB bundle) it must already be known.
    """

    def __init__(
        self,
        node: Context,
        transport: Transport | None = None,
        *,
        online: bool = True,
        hub: Hub | None = None,
        skewed_by: Callable[[int], None] | None = None,
    ):
        ident, hub = node.identity, hub or parent_of(node)
        if not hub.station or (online and not hub.url):
            raise NoParent("本机还没有上级（或不知道上级的网址）：完成注册后才能同步")
        self.node, self.station, self.url = node, hub.station, hub.url if online else None
        trust = node.events.trust
        self.installation = trust.serving(hub.station)
        if online and (self.installation is None or trust.agreement_key(self.installation) is None):
            refresh_trust(node.events, hub.url)
            self.installation = trust.serving(hub.station)
        key = trust.agreement_key(self.installation) if self.installation else None
        if key is None:
            raise NoParent(f"还不认识上级 {hub.station} 的证书：请运行 onetrip trust-refresh")
        self.channel = Channel(
            transport or HttpTransport(hub.url or "", answer_timeout_s=node.config.sync_answer_timeout_s),
            node.keys.signing,
            node.keys.agreement,
            key,
            ident.station,
            ident.installation,
            node.events.clock.clock.now_ms,
            lambda: _own_certificates(ident.installation),
            skewed_by=skewed_by,
        )

    def seal(self, context: bytes, plaintext: bytes, nonce: str | None = None) -> Sealed:
        return self.channel.seal(context, plaintext, nonce)

    def call(self, path: str, context: bytes, plaintext: bytes, sealed: Sealed | None = None) -> bytes:
        return self.channel.call(path, context, plaintext, sealed)


def opened(node: Context, sealed: bytes, context: bytes, nonce: str) -> bytes:
    try:
        return open_body(node.keys.agreement, sealed, context=context, nonce=nonce)
    except CipherError as exc:
        raise CipherError("上级的回答无法解开：不是加密给本机的，或在途中被改动") from exc


def _own_certificates(installation: str) -> str:
    rows = Certificate.select(Certificate.der).where(Certificate.installation == installation)
    return ",".join(base64.b64encode(bytes(row.der)).decode("ascii") for row in rows)


def sync_once(
    node: Context, transport: Transport | None = None, limits: Limits = DEFAULT_LIMITS, hub: Hub | None = None
) -> RoundReport:
    """One full round with the parent (or `hub`); a failure is recorded in plain words for the badge, then
    raised, leaving the cursors where the last acknowledged batch put them. The parent's clock minus ours,
    when it refused our time, is kept for the badge; a round that failed while our clock was off says so
    first, since a wrong clock makes certificates look not yet (or no longer) valid."""
    clock_offsets_ms: list[int] = []  # the parent's clock minus ours, each time it refused our time
    try:
        return _round(node, transport, limits, hub, clock_offsets_ms)
    except ROUND_FAILURES as exc:
        parent = (hub or parent_of(node)).station or "-"
        link = link_row(parent)
        if busy_for_s(exc) is not None:  # backpressure, not a failure: the round resumes where it stopped
            link.last_attempt_at = utcnow()
            save_link(link)
            log.info("parent %s is busy: the round stops here and resumes later", parent)
            raise
        failure = exc
        if clock_offsets_ms:
            link.clock_offset_ms = clock_offsets_ms[-1]
            if not isinstance(exc, Unreachable):
                # the refusal it caused (a certificate "not yet valid") is for IT, in the log, not for staff
                failure = ClockDrift(f"{clock_words(clock_offsets_ms[-1])}：时钟不准时无法核验上级发来的数据")
        link.last_attempt_at, link.last_error, link.failures = utcnow(), str(failure), link.failures + 1
        save_link(link)
        cause = f" ({type(exc.__cause__).__name__})" if exc.__cause__ is not None else ""  # for IT, not staff
        detail = f" [{exc}]" if failure is not exc else ""
        log.warning("sync with %s failed (%d in a row): %s%s%s", parent, link.failures, failure, detail, cause)
        if failure is exc:
            raise
        raise failure from exc


def _round(
    node: Context, transport: Transport | None, limits: Limits, hub: Hub | None, clock_offsets_ms: list[int]
) -> RoundReport:
    parent = Parent(node, transport, hub=hub, skewed_by=clock_offsets_ms.append)
    link = link_row(parent.station)
    node.events.sign_heads()
    pushed = _push(parent, link, limits)
    pulled, applied, theirs = _pull(parent, link, node)
    if pulled:
        _push(parent, link, limits)  # what was pulled is not ours to send: pass the up-cursor over it
    repaired = _reconcile(parent, node, theirs, limits, link.up_cursor)
    scans.exchange(node, parent)  # after the events: a blob is taken only for an attachment known there
    succeeded(link, clock_offsets_ms[-1] if clock_offsets_ms else None)
    return RoundReport(pushed, pulled, applied, link.up_cursor, link.down_cursor, repaired)


def busy_for_s(exc: Exception) -> float | None:
    """The seconds a parent that answered `busy` (503) asked us to wait before coming back; None for any
    other failure."""
    if not (isinstance(exc, Refused) and exc.code == "busy"):
        return None
    try:
        return min(max(float(exc.details.get("retry_after_s", 0)), 1.0), MAX_RETRY_AFTER_S)
    except (TypeError, ValueError):
        return 1.0


def link_row(parent: str) -> SyncLink:
    """The link's row, read by its key through a prepared statement (peewee's `get_or_none` built and compiled
    its query each round: 0.17 ms of an idle round's few)."""
    return get_row(SyncLink, parent) or SyncLink(parent=parent)


def succeeded(link: SyncLink, clock_offset_ms: int | None) -> None:
    """Record the success for the badge; after a success less than a minute old (and no failure since,
    and the clock as it was), nothing: the badge shows it to the minute, and an idle round then writes
    nothing here (an fsync less). The cursors were saved as they moved."""
    now = utcnow()
    recent = link.last_success_at is not None and now - link.last_success_at < health.RESOLUTION
    if (
        recent
        and not health.offset_moved(link.clock_offset_ms, clock_offset_ms)
        and link.failures == 0
        and link.last_error is None
    ):
        return
    link.last_attempt_at = link.last_success_at = now
    link.last_error, link.failures, link.clock_offset_ms = None, 0, clock_offset_ms
    save_link(link)


def batches_up(node: Context, cursor: int, limits: Limits) -> Iterator[Batch]:
    """Batches of what is ours to send after `cursor` (own and descendants' streams), until caught up."""
    scope = Scope(node.events.trust, node.events.trust.binding(node.identity.installation))
    while True:
        batch = delta.outgoing(cursor, scope.sends_up, limits)
        yield batch
        if not batch.more or not (batch.cursor != cursor or batch.runs):
            return
        cursor = batch.cursor


def _push(parent: Parent, link: SyncLink, limits: Limits) -> int:
    pushed = 0
    for batch, sealed in _sealed_ahead(parent, link.up_cursor, limits):
        if batch.runs:
            _push_batch(parent, batch, sealed, limits)
            pushed += batch.event_count
        if batch.cursor != link.up_cursor:
            link.up_cursor = batch.cursor
            save_link(link)
    return pushed


def _sealed_ahead(parent: Parent, cursor: int, limits: Limits) -> Iterator[tuple[Batch, Sealed | None]]:
    """Each batch to push with its sealed body; the next one is read, encoded and sealed on a worker
    thread while this one travels and the parent applies it (a backlog then costs little more than
    the parent's work)."""
    batches = batches_up(parent.node, cursor, limits)

    def prepare():
        batch = next(batches, None)
        if batch is None:
            return None
        return batch, parent.seal(PUSH_CONTEXT, encode_batch(batch)) if batch.runs else None

    item = prepare()
    if item is None or not item[0].more:  # nothing or one batch (an idle round): no worker needed
        yield from [item] if item else []
        return
    with ThreadPoolExecutor(max_workers=1) as worker:
        try:
            while item is not None:
                ahead = worker.submit(prepare)
                yield item
                item = ahead.result()
        finally:
            worker.submit(close_database).result()  # the worker thread's own connection


def _push_batch(parent: Parent, batch: Batch, sealed: Sealed | None, limits: Limits) -> None:
    for _ in range(MAX_REPAIRS):
        try:
            parent.call(PUSH_PATH, PUSH_CONTEXT, encode_batch(batch), sealed)
            return
        except Refused as exc:
            if exc.code != "gap":
                raise
            _repair(parent, exc.details, limits)
            sealed = None  # its nonce is spent: seal again
    parent.call(PUSH_PATH, PUSH_CONTEXT, encode_batch(batch))


def _repair(parent: Parent, gap: dict, limits: Limits) -> None:
    """The parent holds less of a stream than our cursor says (restored from a backup, or a new PC):
    resend that stream from what it holds."""
    log.warning("parent holds %s/%s only up to %s: resending", gap["origin"], gap["stream"], gap["held_seq"])
    while True:
        batch = delta.repair(gap["origin"], gap["stream"], int(gap["held_seq"]), limits)
        if not batch.runs:
            return
        parent.call(PUSH_PATH, PUSH_CONTEXT, encode_batch(batch))
        gap = {**gap, "held_seq": batch.runs[-1][0].seq}


def _pull(parent: Parent, link: SyncLink, node: Context) -> tuple[int, int, str | None]:
    """Pull until caught up: (events pulled, applied, the parent's fingerprint of our scope if it speaks
    protocol 2)."""
    pulled = applied = 0
    mine = link_status(node)
    status = health.report(node, parent.station, mine.pending_events, mine.oldest_unsent_s)
    while True:
        asked = canonical.encode({"cursor": link.down_cursor, "status": status})
        batch = decode_batch(parent.call(PULL_PATH, PULL_CONTEXT, asked))
        status = health.acknowledged(node, parent.station, status)
        applied += _apply_learning_signers(parent, link, node, batch)
        pulled += batch.event_count
        if not batch.more:
            return pulled, applied, batch.digest


def _apply_learning_signers(parent: Parent, link: SyncLink, node: Context, batch) -> int:
    """Apply a pulled batch; if it holds events of an installation we hold no certificate for, fetch the
    parent's trust feed (certificates are public) and apply it again, once. A county learns so the station of
    another county that files a 跨区域通办 case with it: that station's certificate travels in its own
    county's trust stream, which does not come down to another county."""
    try:
        with delta.fork_evidence_kept(node.events):
            return apply_pulled(node, link, [batch])
    except ChainError as exc:
        if exc.code != "unknown_origin" or not parent.url:
            raise
    refresh_trust(node.events, parent.url)
    with delta.fork_evidence_kept(node.events):
        return apply_pulled(node, link, [batch])


def _reconcile(parent: Parent, node: Context, theirs: str | None, limits: Limits, pushed_to: int) -> int:
    """Anti-entropy: compare our fingerprint of the link's scope with the parent's; when they differ,
    compare the heads and resend each stream from what the other side holds. How many streams were out
    of step (0 after a normal round).

    A stream the parent lacks only what arrived here after our last push (`pushed_to`: a hub relaying in a
    storm hears from its stations while it pushes) is not out of step: the next push carries it, and resending
    it now would send it twice."""
    if theirs is None:
        return 0  # a parent on protocol 1
    held = scope_heads(node)
    if digest.fingerprint(held) == theirs:
        return 0
    asked = canonical.encode({"heads": digest.to_wire(held)})
    repairs = digest.repairs_from_wire(canonical.decode(parent.call(DIGEST_PATH, DIGEST_CONTEXT, asked)))
    lost = arrivals_of([(origin, stream, seq + 1) for origin, stream, seq in repairs.up])
    repairs = replace(repairs, up=tuple(r for r in repairs.up if lost.get((r[0], r[1], r[2] + 1), 0) <= pushed_to))
    for origin, stream, held_seq in repairs.up:
        _repair(parent, {"origin": origin, "stream": stream, "held_seq": held_seq}, limits)
    for origin, stream, held_seq in repairs.down:
        _repair_refusing_forgeries(parent, node, origin, stream, held_seq)
    if repairs:
        log.warning(
            "anti-entropy with %s: %d stream(s) resent up, %d down", parent.station, len(repairs.up), len(repairs.down)
        )
    return len(repairs.up) + len(repairs.down)


def scope_heads(node: Context) -> list[digest.Head]:
    scope = Scope(node.events.trust, node.events.trust.binding(node.identity.installation))
    return digest.heads(scope.holds, scope.streams)


def resend_from(link: SyncLink, resend: tuple[tuple[str, str, int], ...]) -> None:
    """By USB stick, the parent lacks part of a stream we had sent (restored from a backup): move the
    up-cursor back to just before the first event it lacks, so the next bundle carries it again (what
    else comes again is a replay there)."""
    for origin, stream, held_seq in resend:
        arrival = (
            EventRecord.select(EventRecord.arrival)
            .where((EventRecord.origin == origin) & (EventRecord.stream == stream) & (EventRecord.seq == held_seq + 1))
            .scalar()
        )
        if arrival is not None:
            link.up_cursor = min(link.up_cursor, arrival - 1)


def _repair_refusing_forgeries(parent: Parent, node: Context, origin: str, stream: str, held_seq: int) -> None:
    """Fetch what the parent holds more of; but a stream it holds in our name that we may not write was
    forged with a copy of our key: the first offer is refused, its proof kept and reported up
    (`EventLog._refuse_forged`), and the round goes on; later offers are not fetched at all."""
    if origin == node.identity.installation and not node.events.trust.may_write(origin, stream):
        held = ForkEvidence.select().where((ForkEvidence.origin == origin) & (ForkEvidence.stream == stream))
        if not held.exists():
            with contextlib.suppress(ForkError):
                _repair_here(parent, node, origin, stream, held_seq)
        return
    _repair_here(parent, node, origin, stream, held_seq)


def _repair_here(parent: Parent, node: Context, origin: str, stream: str, held_seq: int) -> None:
    """We hold less of a stream than the parent (this PC was restored from an old copy, say): fetch it from
    what we hold. The down-cursor stays: what a normal pull brings again is a replay, a no-op."""
    while True:
        batch = decode_batch(
            parent.call(PULL_PATH, PULL_CONTEXT, canonical.encode({"repair": [origin, stream, held_seq]}))
        )
        if not batch.runs:
            return
        with delta.fork_evidence_kept(node.events):
            delta.apply(node.events, batch)
        held_seq = batch.runs[-1][0].seq


def apply_pulled(node: Context, link: SyncLink, batches: list[Batch]) -> int:
    """Apply what came down and store the cursors that follow it, in one transaction: the down-cursor, and the
    up-cursor past the events pulled when it had passed everything stored before them. Nothing pulled is ours
    to send (what comes down others wrote, `Scope.receives`), and the push after a pull read a thousand
    decisions back only to pass them over, and committed again to say so."""
    applied = 0
    if all(not b.runs and b.cursor == link.down_cursor for b in batches):
        return 0  # an idle round writes nothing here
    with node.events.transaction():
        passed = link.up_cursor >= newest_arrival()
        for batch in batches:
            applied += delta.apply(node.events, batch).applied
            link.down_cursor = batch.cursor
        if passed and not node.events.appended_here():
            link.up_cursor = newest_arrival()
        save_link(link)
    return applied


def save_link(link: SyncLink) -> None:
    with write_transaction():
        upsert(SyncLink, **row_values(link))
