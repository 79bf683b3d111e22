"""Causal order: deps first, the hybrid logical clock only to break ties.

Pure: events in, events out. Replaying an entity's events in this order gives
the same state whatever order they arrived in.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from .event import Event


def causal_order(events: Iterable[Event]) -> list[Event]:
    """Topological order over `deps` (Kahn), lowest (hlc, eid) first among the ready.

    A dep that is not among `events` (not held, or purged) does not hold anything back.
    """
    by_eid = {e.eid: e for e in events}
    waiting_on: dict[str, int] = {}
    dependents: dict[str, list[str]] = {}
    ready: list[tuple[int, str]] = []
    for event in by_eid.values():
        held = [d for d in event.deps if d in by_eid]
        waiting_on[event.eid] = len(held)
        for dep in held:
            dependents.setdefault(dep, []).append(event.eid)
        if not held:
            ready.append((event.hlc, event.eid))
    heapq.heapify(ready)
    ordered: list[Event] = []
    while ready:
        _, eid = heapq.heappop(ready)
        ordered.append(by_eid[eid])
        for child in dependents.get(eid, ()):
            waiting_on[child] -= 1
            if waiting_on[child] == 0:
                heapq.heappush(ready, (by_eid[child].hlc, child))
    # A dependency cycle needs a hash collision; if it ever happens, keep the events.
    if len(ordered) < len(by_eid):
        seen = {e.eid for e in ordered}
        ordered.extend(sorted((e for e in by_eid.values() if e.eid not in seen), key=lambda e: (e.hlc, e.eid)))
    return ordered


def frontier(events: Iterable[Event]) -> list[str]:
    """The eids no other given event depends on: what a new event's `deps` must name."""
    events = list(events)
    covered = {dep for e in events for dep in e.deps}
    return sorted(e.eid for e in events if e.eid not in covered)
