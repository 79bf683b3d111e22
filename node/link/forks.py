"""Forks go up to the county, and each hub proves a fork it is told of before acting on it.

A node that catches an installation signing two histories keeps the proof and stops applying that
installation (`sync/log.py`). The county has to hear of it wherever it was found: the finder appends
`installation.forked` to its own stream, carrying the other history from its first differing event to
the signed head that vouches for it, and the report travels up with the finder's other events. Each
hub it reaches checks it against what it holds itself: a different event at that seq, and the origin's
key signing the other run from the same predecessor, prove the fork there too; it is kept as evidence
and the origin stops applying there as well. A report a hub cannot check (it does not hold that part
of the stream) stays a report, shown as one: a stolen PC cannot silence another by accusing it.
"""

from __future__ import annotations

import base64
import binascii

from storage.models import EventRecord, ForkEvidence, insert_row, utcnow
from sync.chain import GENESIS, head_from_wire, verify_chain
from sync.errors import ChainError, EncodingError, ForkError
from sync.event import Event, parse_event
from sync.log import EventLog
from sync.trust import Trust

FORKED = "installation.forked"  # under `installation.`: every level's certificate may sign it


def fork_entity(origin: str, stream: str, seq: int) -> str:
    return f"fork:{origin}:{stream}:{seq}"


def report(events: EventLog, station: str, fork: ForkError) -> None:
    """`EventLog.on_fork`: in the transaction that keeps the proof, the report for the county (once)."""
    other = parse_event(fork.run[0])
    name = fork_entity(other.origin, other.stream, other.seq)
    if EventRecord.select().where((EventRecord.entity == name) & (EventRecord.type == FORKED)).exists():
        return
    payload = {
        "origin": other.origin,
        "stream": other.stream,
        "seq": other.seq,
        "held_eid": fork.held_eid,
        "run": [base64.b64encode(raw).decode("ascii") for raw in fork.run],
        "head": fork.head.to_wire(),
    }
    events.append(FORKED, name, payload, stream=station)


class ForkReportProjection:
    event_types = frozenset({FORKED})
    reads_log = True  # the report is checked against the events we hold of the reported stream

    def __init__(self, installation: str, trust: Trust):
        self.installation = installation
        self.trust = trust

    def apply(self, event: Event) -> None:
        if event.origin == self.installation:
            return  # our own report: the proof was kept when we found it
        proof = _proven_here(event.payload, self.trust)
        if proof is not None:
            insert_row(ForkEvidence, proof, replace_on=("origin", "stream", "seq", "other_eid"))

    def reset(self, entity: str | None) -> None:
        """Evidence is never deleted: a replay proves it again or finds it there."""


def _proven_here(payload: dict, trust: Trust) -> dict | None:
    """The evidence row, if what we hold proves the reported fork; None if we cannot tell."""
    try:
        head = head_from_wire(payload["head"])
        raws = [base64.b64decode(r, validate=True) for r in payload["run"]]
        run = [parse_event(raw) for raw in raws]
    except (KeyError, TypeError, ValueError, binascii.Error, EncodingError, ChainError):
        return None
    if not run:
        return None
    first = run[0]
    key = trust.verifying_key(first.origin)
    held = _held(first.origin, first.stream, first.seq)
    previous = _held(first.origin, first.stream, first.seq - 1) if first.seq > 1 else (None, GENESIS)
    if key is None or held is None or previous is None or held[0] == first.eid:
        return None
    try:
        verify_chain(run, head, key, held_seq=first.seq - 1, held_chain=previous[1])
    except ChainError:
        return None
    return {
        "origin": first.origin,
        "stream": first.stream,
        "seq": first.seq,
        "held_eid": held[0],
        "other_eid": first.eid,
        "other_body": raws[0],
        "head_body": head.body,
        "head_signature": head.signature,
        "found_at": utcnow(),
    }


def _held(origin: str, stream: str, seq: int) -> tuple[str, str] | None:
    """(eid, chain) of the event we hold there."""
    return (
        EventRecord.select(EventRecord.eid, EventRecord.chain)
        .where((EventRecord.origin == origin) & (EventRecord.stream == stream) & (EventRecord.seq == seq))
        .tuples()
        .first()
    )


def warning(own: str | None = None) -> str | None:
    """In plain words, for the status page: installations proven here to have signed two histories, and
    those reported from below that this node could not check; `own` (this installation) if events forged
    with a copy of its key were offered to it."""
    proven = sorted({origin for (origin,) in ForkEvidence.select(ForkEvidence.origin).tuples()})
    reported = {
        name.split(":")[1]
        for (name,) in EventRecord.select(EventRecord.entity).where(EventRecord.type == FORKED).tuples()
    } - set(proven)
    parts = []
    if own in proven:
        proven.remove(own)
        reported.discard(own)
        parts.append(
            f"有人用本机（{own}）的密钥签署了本机从未写过的事件（疑似密钥被盗用）：已拒收、留存证据并报告县级，"
            "本机照常工作。请县级管理员吊销本机证书并为本站更换安装"
        )
    if proven:
        parts.append(
            f"发现 {len(proven)} 个安装签署了两份不同的事件历史（疑似电脑被克隆或密钥被盗用）：{'、'.join(proven)}。"
            "已留存证据并停止应用其事件，请县级管理员核查并吊销"
        )
    if reported:
        parts.append(
            f"下级报告 {len(reported)} 个安装疑似被克隆或密钥被盗用：{'、'.join(sorted(reported))}"
            "（本节点未持有可核实的事件，请县级管理员核查）"
        )
    return "；".join(parts) or None
