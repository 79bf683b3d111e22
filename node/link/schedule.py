"""When a child syncs: backoff with jitter after failures, and the round the scheduler starts when one is
due (to the county straight when the parent has been gone too long).
"""

from __future__ import annotations

import datetime as dt
import logging
import random

from node.context import Context
from node.link.upstream import ROUND_FAILURES, RoundReport, busy_for_s, county_of, save_link, sync_once
from storage.models import SyncLink, utcnow
from sync.transport import Unreachable

log = logging.getLogger(__name__)


def backoff_s(failures: int, interval_s: int, cap_s: int, rng: random.Random) -> float:
    """Seconds to wait before the next attempt: the interval while the link works; after failures,
    doubling up to a cap, with jitter so that a hub coming back is not hit by every station at once."""
    if failures == 0:
        return interval_s
    return min(cap_s, interval_s * 2 ** min(failures, 16)) * rng.uniform(0.5, 1.0)


def retry_after_s(asked_s: float, rng: random.Random) -> float:
    """When to come back to a parent that answered busy: not before it asked, and spread over half as long
    again, so that the stations it turned away do not all return in the same second."""
    return asked_s * rng.uniform(1.0, 1.5)


def sync_if_due(node: Context, rng: random.Random) -> RoundReport | None:
    """The scheduler's job: one round when the interval (or, after failures, the backoff) has passed."""
    parent = node.identity.parent
    link = SyncLink.get_or_none(SyncLink.parent == parent)
    if link is not None and link.next_attempt_at is not None and utcnow() < link.next_attempt_at:
        return None
    report, busy_s = None, None
    try:
        report = sync_once(node)
    except Unreachable:
        report = _straight_to_county(node)
    except ROUND_FAILURES as exc:
        busy_s = busy_for_s(exc)  # otherwise recorded for the badge; the backoff below waits longer
    link = SyncLink.get_by_id(parent)
    if busy_s is not None:
        wait = retry_after_s(busy_s, rng)
    else:
        wait = backoff_s(link.failures, node.config.sync_interval_s, node.config.sync_backoff_max_s, rng)
    link.next_attempt_at = utcnow() + dt.timedelta(seconds=wait)
    save_link(link)
    return report


def _straight_to_county(node: Context) -> RoundReport | None:
    """The parent cannot be reached (a township centre closed for days): the work goes straight to the
    county, so that it is not held back; the parent gets it when its own link works again."""
    county = county_of(node)
    if county is None:
        return None
    try:
        report = sync_once(node, hub=county)
    except ROUND_FAILURES:
        return None
    log.info("parent unreachable: synced straight with the county %s", county.station)
    return report
