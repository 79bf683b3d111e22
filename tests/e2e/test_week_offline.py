"""A village station cut off for a week, then reconnected, with real servers on loopback.

The village's clock is simulated (a day at a time); when the link comes back the hubs are
restarted a week ahead (`harness/shifted.py`), so that the whole tree has lived the week:
the village's copy of its county's trust feed has gone stale, its work has piled up, and one
round brings everything up to the city and the feed back to fresh.
"""

from __future__ import annotations

import time

import pytest

from harness import shifted
from harness.clock import FrozenClock
from harness.cluster import file
from harness.tree import open_node
from node.link import upstream
from storage.database import db
from storage.models import Application, EventRecord
from sync.errors import SyncError

DAY_MS = 24 * 3600 * 1000
WEEK_S = 7 * 24 * 3600 + 3600
PER_DAY = 2


def test_a_week_offline_then_one_round_brings_everything_up_and_the_trust_feed_back(cluster, monkeypatch):
    clock = FrozenClock(time.time_ns() // 1_000_000)
    village = cluster.configs["village"]
    upstream.sync_once(open_node(village, clock))
    assert open_node(village, clock).events.stale_feeds() == []
    cluster.halt("township")

    numbers = []
    for _ in range(7):
        clock.advance(DAY_MS)
        node = open_node(village, clock)
        numbers += [file(node) for _ in range(PER_DAY)]
        with pytest.raises(SyncError, match="连不上上级"):
            upstream.sync_once(node)
    node = open_node(village, clock)
    assert node.status().trust_warning and "未再更新" in node.status().trust_warning  # a frozen feed shows
    badge = node.status().sync
    assert badge.pending_events >= len(numbers) and badge.pending_bytes > 1000 * len(numbers) and badge.last_error
    assert badge.oldest_unsent_s is not None
    db.close()

    clock.advance(3600 * 1000)
    shifted.shift_for_test(monkeypatch, WEEK_S)  # this process's own rounds (the relays') live the week too
    for level in ("city", "county"):
        cluster.halt(level)
    for level in ("city", "county", "township"):
        cluster.serve(level, clock_shift_s=WEEK_S)

    report = upstream.sync_once(open_node(village, clock))
    assert report.pushed >= len(numbers) and report.repaired == 0
    node = open_node(village, clock)
    badge = node.status().sync
    assert (badge.pending_events, badge.pending_bytes, badge.last_error) == (0, 0, None)
    db.close()
    # The relays' rounds, as their schedulers would run them: up to the city, then the hubs' renewed
    # feeds (a quiet feed's head is re-signed on one small event) come down to the village.
    for level in ("township", "county", "township"):
        assert cluster.sync(level) == 0
    upstream.sync_once(open_node(village, clock))
    node = open_node(village, clock)
    assert node.events.stale_feeds() == [] and node.status().trust_warning is None
    db.close()

    cluster.open("city")
    held = {a.number: a.filed_on for a in Application.select().where(Application.number.in_(numbers))}
    assert sorted(held) == sorted(numbers) and len(set(held.values())) == 7  # filed on seven days, all arrived
    for number in numbers:  # each event once
        assert EventRecord.select().where(EventRecord.entity == f"application:{number}").count() == 1
    db.close()
