"""The county hub's SMS outbox on a real county and a real HTTP gateway on loopback that fails 30% of the
requests (half after storing the message): every notice of every step arrives exactly once, none in quiet
hours, and what was sent is recorded as the county's own events, so a rebuild forgets nothing."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from harness.cases import file
from harness.sms_gateway import LoopbackSmsGateway
from node.cases.intake import transition
from node.cases.notices import SENT, queue_new
from node.hub.outbox import send_due
from node.hub.sms import HttpSmsGateway
from node.rules.notices import next_send_ms
from provisioning.region import CHINA
from storage.models import EventRecord, Notice


def beijing_ms(day: int, hour: int, minute: int = 0) -> int:
    return int(dt.datetime(2026, 12, day, hour, minute, tzinfo=CHINA).timestamp() * 1000)


class Clock:
    def __init__(self, ms: int):
        self.ms = ms

    def now_ms(self) -> int:
        return self.ms


@pytest.fixture
def cases(county_node):
    numbers = []
    for n in range(6):
        number = file(county_node, token=f"outbox-{n}")
        transition(county_node.events, number, "application.accepted", {"by": "zhou", "by_name": "周科员"})
        decided = {"by": "zhou", "approved": n % 2 == 0, "reason": "" if n % 2 == 0 else "不符合条件"}
        transition(county_node.events, number, "application.decided", decided)
        numbers.append(number)
    return numbers


def test_every_notice_arrives_once_none_at_night_and_a_rebuild_keeps_what_was_sent(county_node, cases):
    clock = Clock(beijing_ms(7, 22, 30))
    gateway = LoopbackSmsGateway(clock, fail_share=0.3, seed=3)
    sender, rng = HttpSmsGateway(gateway.url, timeout_s=5), random.Random(1)
    try:
        queued = queue_new(county_node, county_node.reference.catalogue(), clock.ms, next_send_ms)
        assert queued == 6 * 2 + 3  # 受理 and 办结 each, 可领取 for the three approved
        assert queue_new(county_node, county_node.reference.catalogue(), clock.ms, next_send_ms) == 0  # never twice
        assert send_due(county_node, sender, clock.ms, rng) == 0 and not gateway.log.accepted  # 22:30: quiet
        for minutes in range(0, 24 * 60, 5):  # from 22:30 through the next day, every five minutes
            clock.ms = beijing_ms(7, 22, 30) + minutes * 60_000
            send_due(county_node, sender, clock.ms, rng)
        accepted = gateway.log.accepted
        assert len(accepted) == queued and gateway.log.failed > 0  # the failures were real, and overcome
        assert set(accepted) == {n.notice_id for n in Notice.select()}
        hours = {dt.datetime.fromtimestamp(r.at_ms / 1000, CHINA).hour for r in accepted.values()}
        assert hours and all(8 <= h < 21 for h in hours)
        assert all(
            r.phone.replace(" ", "") == "13800138000" and "11010519491231002X" not in r.text for r in accepted.values()
        )
        assert all("【顺庆区政务服务中心】" in r.text for r in accepted.values())
    finally:
        gateway.close()
    sent = EventRecord.select().where(EventRecord.type == SENT).count()
    assert sent == Notice.select().where(Notice.sent_at.is_null(False)).count() == queued
    county_node.events.rebuild()
    assert Notice.select().where(Notice.sent_at.is_null()).count() == 0  # replayed from the county's own events


def test_a_bundles_items_are_told_as_one_case_accepted_once(county_node):
    """一件事: the resident hears one 受理 for the case, under the case's number and the bundle's name, and a
    办结 for each item its department decides."""
    import os

    from harness.cases import RESIDENT
    from node.cases.intake import file_for_resident

    numbers = file_for_resident(
        county_node,
        county_node.reference.catalogue(),
        bundle_code="511302-YJS-002",  # 退休一件事: three items, all decided at the county
        applicant=RESIDENT,
        consent=True,
        operator="li",
        request_token=os.urandom(16).hex(),
        now=county_node.now(),
    )
    for number in numbers:
        transition(county_node.events, number, "application.accepted", {"by": "zhou", "by_name": "周科员"})
    queue_new(county_node, county_node.reference.catalogue(), beijing_ms(7, 10), next_send_ms)
    accepted = [n for n in Notice.select() if n.kind == "受理"]
    assert len(accepted) == 1 and accepted[0].number == numbers[0]
    assert "退休一件事中的" in accepted[0].text and f"办件号{numbers[0]}" in accepted[0].text
    for number in numbers:
        transition(county_node.events, number, "application.decided", {"by": "zhou", "approved": True})
    queue_new(county_node, county_node.reference.catalogue(), beijing_ms(7, 11), next_send_ms)
    decided = [n for n in Notice.select() if n.kind == "办结"]
    assert len(decided) == 3 and all(f"办件号{numbers[0]}" in n.text for n in decided)
