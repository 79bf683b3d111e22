"""Notices through a real HTTP gateway on loopback that fails 30% of requests (half of them after
storing the message): every notice of 200 applications arrives exactly once, none in quiet hours.

The clock is frozen and stepped every five minutes through a day and a night; the applications'
steps fall at any hour, so notices made at night wait for 08:00. The notices come from the rules
and go through `node.hub.sms`; the county's outbox of events is not yet in this test."""

from __future__ import annotations

import datetime as dt
import random

from harness.clock import FrozenClock
from harness.sms_gateway import LoopbackSmsGateway
from node.hub.sms import HttpSmsGateway, queue, send_due
from node.rules.notices import is_quiet, notices_for
from provisioning.region import CHINA

STEP_MS = 5 * 60_000
START = dt.datetime(2026, 3, 9, 6, 0, tzinfo=CHINA)


def _steps(rng: random.Random, n: int):
    """(when, event type, payload, eid, number): each application accepted, and decided hours later,
    or asked for corrections, or not accepted."""
    start = int(START.timestamp() * 1000)
    for i in range(n):
        number = f"511302-01-{i:04d}"
        at = start + rng.randrange(20 * 3_600_000)
        roll = rng.random()
        if roll < 0.1:
            yield at, "application.not_accepted", {"reason": "不属于本部门职责"}, f"{number}/n", number
            continue
        if roll < 0.25:
            items = {"items": ["租赁合同"], "deadline": "2026年3月20日"}
            yield at, "application.corrections_requested", items, f"{number}/c", number
            continue
        yield at, "application.accepted", {}, f"{number}/a", number
        decision = {"approved": rng.random() < 0.8, "reason": "材料不实"}
        yield at + rng.randrange(3_600_000, 12 * 3_600_000), "application.decided", decision, f"{number}/d", number


def test_every_notice_of_200_applications_arrives_once_and_never_at_night():
    clock = FrozenClock(int(START.timestamp() * 1000))
    gateway = LoopbackSmsGateway(clock, fail_share=0.3, seed=14)
    try:
        rng = random.Random(14)
        pending = sorted(_steps(rng, 200))
        outbox, expected = [], {}
        end = clock.now_ms() + 40 * 3_600_000
        adapter = HttpSmsGateway(gateway.url, timeout_s=5)
        while clock.now_ms() < end:
            while pending and pending[0][0] <= clock.now_ms():
                _, event_type, payload, eid, number = pending.pop(0)
                for notice in notices_for(
                    event_type,
                    payload,
                    eid=eid,
                    number=number,
                    name="王小明",
                    service="个体工商户登记",
                    signature="顺庆区政务服务",
                ):
                    expected[notice.notice_id] = notice.text
                    outbox.append(queue(notice, "13800000000", clock.now_ms()))
            send_due(outbox, adapter, clock.now_ms(), rng)
            clock.advance(STEP_MS)
    finally:
        gateway.close()
    log = gateway.log
    assert not pending and len(expected) > 400
    assert {k: r.text for k, r in log.accepted.items()} == expected  # each notice accepted, none twice
    assert all(entry.receipt is not None for entry in outbox)
    assert log.failed > 0.2 * (len(expected) + log.failed) and log.duplicates > 0  # the gateway did fail
    assert not [r for r in log.accepted.values() if is_quiet(r.at_ms)]
