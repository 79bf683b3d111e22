"""What a child's link to its parent says: events waiting to go up, the oldest one's age, the last
success and error, and the parent's clock against ours, in words for the status page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from node.context import Context
from node.link import health
from storage.database import execute
from storage.models import SyncLink, get_row, utcnow

# Asked at each round's pull (what it reports) and by each status page, as plain SQL (`storage.database.execute`).
_PENDING = "SELECT COUNT(arrival), SUM(LENGTH(body)), MIN(received_at) FROM event WHERE arrival > {param}"


@dataclass(frozen=True)
class LinkStatus:
    """What the badge shows: plain numbers and plain words."""

    parent: str
    pending_events: int
    pending_bytes: int  # of those events as stored (material scans travel after them)
    oldest_unsent_s: int | None
    last_success: str | None  # UTC, ISO 8601
    last_error: str | None
    clock_warning: str | None = None  # this PC's clock, as the parent last found it, is off


def clock_words(parent_minus_ours_ms: int) -> str:
    return f"本机时钟比上级服务器{health.offset_words(-parent_minus_ours_ms)}，请校准电脑时间"


def link_status(node: Context) -> LinkStatus | None:
    """Pending events (stored here, not yet acknowledged by the parent), the oldest one's age, the last outcome."""
    parent = node.identity.parent
    if not parent:
        return None
    link = get_row(SyncLink, parent) or SyncLink(parent=parent, up_cursor=0)
    pending, size, oldest = execute(_PENDING, link.up_cursor).fetchone()
    oldest_s = None
    if oldest is not None:
        if isinstance(oldest, str):  # SQLite's CURRENT_TIMESTAMP default comes back as text
            oldest = dt.datetime.fromisoformat(oldest)
        oldest_s = max(0, int((utcnow() - oldest).total_seconds()))
    success = link.last_success_at and link.last_success_at.replace(tzinfo=dt.UTC).isoformat(timespec="seconds")
    clock = None if link.clock_offset_ms is None else clock_words(link.clock_offset_ms)
    return LinkStatus(parent, pending, int(size or 0), oldest_s, success, link.last_error, clock)
