"""Where the domain plugs in: projections that turn events into rows.

`sync/` knows nothing of applications; the domain registers a projection for the
event types it understands, and the engine calls it inside the event's
transaction. A type with no projection is stored and applied after an upgrade.
"""

from __future__ import annotations

from typing import Protocol

from .errors import SyncError
from .event import Event


class RuleViolation(SyncError):
    """Raised by a projection: the event is authentic but breaks a rule; it is quarantined."""

    code = "rule_violation"


class Projection(Protocol):
    """What the engine calls. A projection may also have `read_ahead(events)`: before a run of events is
    applied in one go, read what applying them will need in a few queries instead of one or more each; and
    `reads_log = True` if it reads stored events (a fork report is checked against what we hold): the log
    then stores what it holds back before applying one of its events, since the runs of a batch are settled
    together and an earlier run's events would not be there yet. `confined = True` if every row it writes for
    an event belongs to that event's stream (an entity's events all lie in one stream), or is a counter it
    only adds to: batches of streams in different areas can then be applied at once (`EventLog.area_of`)."""

    event_types: frozenset[str]

    def apply(self, event: Event) -> None:
        """Write the rows this event changes; raise RuleViolation to refuse it."""

    def reset(self, entity: str | None) -> None:
        """Delete the rows of one entity (None: of every entity), before a replay."""


class Registry:
    def __init__(self, projections: tuple[Projection, ...] = ()):
        self._by_type: dict[str, Projection] = {}
        self._projections: list[Projection] = []
        for projection in projections:
            self.register(projection)

    def register(self, projection: Projection) -> None:
        for event_type in projection.event_types:
            if event_type in self._by_type:
                raise ValueError(f"event type {event_type} already has a projection")
            self._by_type[event_type] = projection
        self._projections.append(projection)

    def knows(self, event_type: str) -> bool:
        return event_type in self._by_type

    def projection_for(self, event_type: str) -> Projection:
        return self._by_type[event_type]

    def reads_log(self, event_type: str) -> bool:
        return getattr(self._by_type.get(event_type), "reads_log", False)

    def confined(self, event_type: str) -> bool:
        return getattr(self._by_type.get(event_type), "confined", False)

    def read_ahead(self, events: list[Event]) -> None:
        """Let each projection that reads ahead read what applying its share of these events will need."""
        shares: dict[int, tuple[Projection, list[Event]]] = {}
        for event in events:
            projection = self._by_type.get(event.type)
            if hasattr(projection, "read_ahead"):
                shares.setdefault(id(projection), (projection, []))[1].append(event)
        for projection, share in shares.values():
            projection.read_ahead(share)

    @property
    def projections(self) -> tuple[Projection, ...]:
        return tuple(self._projections)
