"""Conflicts: two levels acted on one application at once (a station withdrew it while the county
approved it). Both events are kept; the causal order decides deterministically which applies, and the
other is held back (quarantined) with a reason that starts with `CONFLICT`. A clerk of the deciding
level reads both and records how it was settled with the resident; nothing is overwritten silently.
A hub that finds a 秒办 not eligible under a newer version of its rule (`node.hub.rechecks`) records a
`RULE_DISPUTED` finding: listed and settled the same way, the approval standing until a clerk acts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from node.cases.events import CONFLICT, CONFLICT_SETTLED, RULE_DISPUTED, STEP_NAMES, entity
from node.cases.intake import NOTE_LIMIT, IntakeRefused
from provisioning.region import CHINA
from storage.models import Application, EventRecord, unsettled
from sync.event import parse_event
from sync.log import QUARANTINED, EventLog


@dataclass(frozen=True)
class Conflict:
    number: str
    eid: str  # the event held back
    step: str  # what it would have done, in words
    by: str
    at: dt.datetime  # Beijing time, by its author's clock
    reason: str  # why it could not apply, in words
    state: str  # where the application stands now


def open_conflicts(station_prefix: str, number: str | None = None) -> list[Conflict]:
    """Held-back steps of the applications of a station (and those below it) not yet settled, oldest first."""
    held = EventRecord.select(EventRecord.eid, EventRecord.entity, EventRecord.body, EventRecord.reason).where(
        unsettled(QUARANTINED)  # by the partial status index: quarantined events are few
        & EventRecord.reason.startswith(CONFLICT)
        & (EventRecord.entity == entity(number) if number else EventRecord.entity.startswith(entity(station_prefix)))
    )
    held = list(held.tuples()) + _disputes(station_prefix, number)
    if not held:
        return []
    notes = EventRecord.select(EventRecord.body).where(
        EventRecord.entity.in_({name for _, name, _, _ in held}) & (EventRecord.type == CONFLICT_SETTLED)
    )
    settled = {parse_event(bytes(body)).payload["eid"] for (body,) in notes.tuples()}
    found = []
    for eid, _, body, reason in held:
        if eid in settled:
            continue
        event = parse_event(bytes(body))
        row = Application.get_or_none(Application.number == event.entity.removeprefix("application:"))
        found.append(
            Conflict(
                event.entity.removeprefix("application:"),
                eid,
                STEP_NAMES.get(event.type, event.type),
                event.payload.get("by") or event.payload.get("operator", ""),
                dt.datetime.fromtimestamp((event.hlc >> 16) / 1000, CHINA),
                reason.removeprefix(CONFLICT),
                row.state if row else "",
            )
        )
    return sorted(found, key=lambda c: c.at)


def _disputes(station_prefix: str, number: str | None) -> list[tuple]:
    """A hub's findings against a 秒办, shaped as held-back steps: the rule's reasons are the conflict."""
    found = EventRecord.select(EventRecord.eid, EventRecord.entity, EventRecord.body).where(
        (EventRecord.type == RULE_DISPUTED)
        & (EventRecord.entity == entity(number) if number else EventRecord.entity.startswith(entity(station_prefix)))
    )
    return [
        (eid, name, body, "；".join(parse_event(bytes(body)).payload.get("reasons", [])))
        for eid, name, body in found.tuples()
    ]


def settle(events: EventLog, number: str, eid: str, note: str, by: str) -> None:
    """Record how a conflict was settled (what the resident was told, what was done); it stays in the timeline."""
    if not any(c.eid == eid for c in open_conflicts("", number)):
        raise IntakeRefused([f"办件 {number} 没有待处理的这项冲突"])
    if not note.strip() or len(note) > NOTE_LIMIT:
        raise IntakeRefused([f"请写明处理结果（不超过 {NOTE_LIMIT} 字）"])
    station = Application.get_by_id(number).station
    events.append(CONFLICT_SETTLED, entity(number), {"eid": eid, "note": note.strip(), "by": by}, stream=station)
