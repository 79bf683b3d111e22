"""The event log: local appends, verified ingest, pending and quarantine, replay (`EventLog`).

One class in parts named for what they hold: `eventlog` (transactions, append, ingest), `heads` (own
heads, signed), `forks` (replays, forks, forgeries in our name), `deciding` (each event's status and its
projection), `replay` (deciding stored events again, rebuild), and `state` (what they share).
"""

from sync.log.eventlog import EventLog
from sync.log.state import (
    APPLIED,
    DEFERRED,
    FEED,
    FEED_RENEWED,
    PENDING,
    QUARANTINED,
    SETTLED,
    Author,
    IngestReceipt,
    NotAuthorized,
)

__all__ = [
    "APPLIED",
    "DEFERRED",
    "FEED",
    "FEED_RENEWED",
    "PENDING",
    "QUARANTINED",
    "SETTLED",
    "Author",
    "EventLog",
    "IngestReceipt",
    "NotAuthorized",
]
