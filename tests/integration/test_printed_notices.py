"""A village whose county is out of reach prints the residents' notices instead of the SMS it cannot know was
sent; what it printed the county does not send afterwards, and what the county sent the village never prints.
Real SQLite nodes of one tree (city, county, village), events carried between them as their links carry them,
a real HTTP gateway on loopback."""

from __future__ import annotations

import datetime as dt
import io
import random

import pytest
from pypdf import PdfReader

from harness.seals import carry
from harness.sms_gateway import LoopbackSmsGateway
from harness.web import login, token
from node.cases.intake import transition
from node.cases.notices import CURSOR, PRINTED, printable, queue_new
from node.hub.outbox import send_due
from node.hub.sms import HttpSmsGateway
from node.rules.notices import PRINT_AFTER_MS, next_send_ms, print_due_ms
from provisioning.region import CHINA
from storage.models import EventRecord, Notice, ScanCursor
from sync.projection import RuleViolation
from web import create_app

HOUR = 3600 * 1000


def beijing_ms(day: int, hour: int) -> int:
    return int(dt.datetime(2026, 12, day, hour, tzinfo=CHINA).timestamp() * 1000)


def two_days_ago_at_ten(node) -> int:
    day = node.now().astimezone(CHINA).date() - dt.timedelta(days=2)
    return int(dt.datetime.combine(day, dt.time(10), CHINA).timestamp() * 1000)


class Clock:
    def __init__(self, ms: int):
        self.ms = ms

    def now_ms(self) -> int:
        return self.ms


def test_a_cut_off_village_prints_what_the_county_could_not_send_and_the_county_then_sends_none_of_it(seal_tree):
    number, village_stream = seal_tree.number, seal_tree.open("village").identity.station
    county = carry(seal_tree, "village", "county", village_stream)
    transition(county.events, number, "application.accepted", {"by": "zhou", "by_name": "周科员"})
    village = carry(seal_tree, "county", "village", village_stream)  # the step's way down; then the line is cut
    at = two_days_ago_at_ten(village)  # so that the pages, on the real clock, find it due for printing
    assert queue_new(village, village.reference.catalogue(), at, print_due_ms, filed_here=True) == 1
    assert printable(village, at + PRINT_AFTER_MS - 1) == []  # the county may still send it: wait
    [waiting] = printable(village, at + PRINT_AFTER_MS)
    assert waiting.kind == "受理" and waiting.name == "张秀英" and "已受理" in waiting.text

    app = create_app(node=village)
    client = app.test_client()
    login(client, "li", "agent-pass-1")
    queue = client.get("/work/").get_data(as_text=True)
    assert "1 份办件通知未能以短信送达居民" in queue
    page = client.get("/work/notices/").get_data(as_text=True)
    assert "张秀英" in page and number in page
    response = client.post(
        "/work/notices/print.pdf",
        data={"csrf_token": token(client, "/work/notices/"), "notice": [waiting.notice_id]},
    )
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages).replace("\n", "")
    assert "办件进度通知（受理）" in text and "致：张秀英" in text and "已受理" in text
    assert "11010519491231002X" not in text and "青山村便民服务代办点打印转交" in text
    assert printable(village, at + PRINT_AFTER_MS) == []  # handed over: no longer listed
    assert EventRecord.select().where(EventRecord.type == PRINTED).count() == 1

    # The line is back: the village's push carries the printed notice up before the county ever scanned.
    county = carry(seal_tree, "village", "county", village_stream)
    clock = Clock(beijing_ms(7, 15))
    gateway = LoopbackSmsGateway(clock, fail_share=0.0)
    try:
        queue_new(county, county.reference.catalogue(), clock.ms, next_send_ms)
        assert send_due(county, HttpSmsGateway(gateway.url, timeout_s=5), clock.ms, random.Random(1)) == 0
        assert gateway.log.accepted == {}  # printed at the village: never also sent
        assert Notice.get_by_id(waiting.notice_id).status == "printed"
    finally:
        gateway.close()


def test_what_the_county_sent_comes_down_and_the_village_never_lists_it(seal_tree):
    number, village_stream = seal_tree.number, seal_tree.open("village").identity.station
    county = carry(seal_tree, "village", "county", village_stream)
    transition(county.events, number, "application.accepted", {"by": "zhou", "by_name": "周科员"})
    clock = Clock(beijing_ms(7, 10))
    gateway = LoopbackSmsGateway(clock, fail_share=0.0)
    try:
        queue_new(county, county.reference.catalogue(), clock.ms, next_send_ms)
        assert send_due(county, HttpSmsGateway(gateway.url, timeout_s=5), clock.ms, random.Random(1)) == 1
    finally:
        gateway.close()
    village = carry(seal_tree, "county", "village", village_stream)  # the step and its notice.sent, one stream
    queue_new(village, village.reference.catalogue(), clock.ms, print_due_ms, filed_here=True)
    assert printable(village, clock.ms + 10 * PRINT_AFTER_MS) == []
    assert Notice.select().where(Notice.status == "delivered").count() == 1


def test_a_printed_notice_counts_only_in_the_stream_of_the_station_that_filed_the_case(seal_tree):
    """Another station (here the county, in its own stream) cannot mark a village's notice handed over."""
    county = carry(seal_tree, "village", "county", seal_tree.open("village").identity.station)
    payload = {"notice": "f" * 32, "number": seal_tree.number, "kind": "受理", "by": "wang"}
    with pytest.raises(RuleViolation, match="只有收件的站点"):
        county.events.append(PRINTED, "notice:" + "f" * 32, payload, stream=county.identity.station)
    assert Notice.get_or_none(Notice.notice_id == "f" * 32) is None


def test_a_hub_queues_nothing_of_the_cases_its_stations_filed_and_its_scan_passes_them_unread(seal_tree):
    """A hub without a gateway queues the notices of its own filings only; its scan reads its own streams, so a
    city's or a county's minute is not spent parsing every station's events, and its cursor passes them."""
    number, village_stream = seal_tree.number, seal_tree.open("village").identity.station
    county = carry(seal_tree, "village", "county", village_stream)
    transition(county.events, number, "application.accepted", {"by": "zhou", "by_name": "周科员"})
    now = county.events.clock.clock.now_ms()
    assert queue_new(county, county.reference.catalogue(), now, print_due_ms, filed_here=True) == 0
    assert Notice.select().count() == 0
    newest = EventRecord.select(EventRecord.arrival).order_by(EventRecord.arrival.desc()).scalar()
    assert ScanCursor.get(ScanCursor.name == CURSOR).arrival == newest
