"""到期提醒 on a real county through a real HTTP gateway on loopback: each clerk with a work mobile hears once a
day, after 08:30, how many of the body's running cases are overdue or due soon; nobody else, and no resident's
name in it. The mobile is set on the accounts page by the station's admin, checked as it is typed."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from harness.cases import file
from harness.sms_gateway import LoopbackSmsGateway
from harness.web import login, token
from node.cases.intake import transition
from node.cases.marks import mark_deadlines
from node.hub.outbox import send_due
from node.hub.reminders import queue_reminders
from node.hub.sms import HttpSmsGateway
from provisioning.errors import ProvisioningError
from provisioning.operators import set_phone
from provisioning.region import CHINA
from storage.models import Application, Notice, Operator
from web import create_app


class Clock:
    def __init__(self, ms: int):
        self.ms = ms

    def now_ms(self) -> int:
        return self.ms


def at(day: dt.date, hour: int, minute: int = 0) -> int:
    return int(dt.datetime.combine(day, dt.time(hour, minute), CHINA).timestamp() * 1000)


@pytest.fixture
def today(county_node):
    """Three cases accepted at the county: one overdue, one due tomorrow, one far off; the marks made."""
    today = county_node.now().astimezone(CHINA).date()
    for n, due in enumerate(
        (today - dt.timedelta(days=2), today + dt.timedelta(days=1), today + dt.timedelta(days=60))
    ):
        number = file(county_node, token=f"remind-{n}")
        transition(county_node.events, number, "application.accepted", {"by": "zhou", "by_name": "周科员"})
        Application.update(due=due).where(Application.number == number).execute()
    mark_deadlines(today, county_node.reference.holidays())
    return today


def test_a_clerk_with_a_mobile_is_reminded_once_a_day_after_half_past_eight(county_node, today):
    station = county_node.identity.station
    set_phone(county_node.events, station, "zhou", "13900001111", by="wang")
    set_phone(county_node.events, station, "li", "13900002222", by="wang")  # an agent: not reminded
    assert queue_reminders(county_node, at(today, 8, 10)) == 0  # before the working day
    assert queue_reminders(county_node, at(today, 9)) == 1
    assert queue_reminders(county_node, at(today, 15)) == 0  # once a day

    clock = Clock(at(today, 9))
    gateway = LoopbackSmsGateway(clock, fail_share=0.0)
    try:
        assert send_due(county_node, HttpSmsGateway(gateway.url, timeout_s=5), clock.ms, random.Random(1)) == 1
        [received] = gateway.log.accepted.values()
        assert received.phone == "13900001111"
        assert "周科员您好" in received.text and "1 件已超过承诺办结日" in received.text
        assert "1 件将在 3 个工作日内到期" in received.text and "张" not in received.text  # counts, no resident
    finally:
        gateway.close()
    assert queue_reminders(county_node, at(today + dt.timedelta(days=1), 9)) == 1  # the next day, again


def test_a_mobile_is_checked_as_typed_and_cleared_mobiles_get_nothing(county_node, today):
    station = county_node.identity.station
    with pytest.raises(ProvisioningError, match="手机号应为 11 位数字"):
        set_phone(county_node.events, station, "zhou", "1390000", by="wang")
    client = create_app(node=county_node).test_client()
    login(client, "wang", "county-admin-1")
    page = client.post(
        "/admin/operators",
        data={"csrf_token": token(client, "/admin/operators"), "phone_for": "zhou", "phone": "139 0000-1111"},
    )
    assert page.status_code == 302 and Operator.get_by_id("zhou").phone == "13900001111"  # typed with gaps
    wrong = client.post(
        "/admin/operators",
        data={"csrf_token": token(client, "/admin/operators"), "phone_for": "zhou", "phone": "12345"},
    )
    assert wrong.status_code == 200 and "手机号应为 11 位数字" in wrong.get_data(as_text=True)
    assert Operator.get_by_id("zhou").phone == "13900001111"  # a bad entry changes nothing
    queue_reminders(county_node, at(today, 9))
    set_phone(county_node.events, station, "zhou", "", by="wang")  # cleared before it went out
    gateway = LoopbackSmsGateway(Clock(at(today, 9)), fail_share=0.0)
    try:
        assert send_due(county_node, HttpSmsGateway(gateway.url, timeout_s=5), at(today, 9), random.Random(1)) == 0
        assert gateway.log.accepted == {} and Notice.select().count() == 0
    finally:
        gateway.close()
