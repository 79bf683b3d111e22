"""差评整改 and 办件回访 on a real county hub (its own keys, certificate and SQLite database): a 差评 opens one
case, assigned to the item's department and due in working days, that goes through 核实, 整改, 报告 and closes
only with the 回访; a month's call-back sample drawn twice is the same list; every phone read is audited; a
rebuild brings everything back from the county's own events and opens nothing twice."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from harness.cases import RESIDENT, file, item
from harness.clock import FrozenClock
from harness.tree import open_node
from harness.web import login, token
from node.cases.intake import transition
from node.cases.ratings import rate
from node.config import NodeConfig
from node.hub.callbacks import call_list, draw_due, draw_month, record_call
from node.hub.calls import VIEW_PHONE, callee_for_call
from node.hub.rectifications import FollowUpRefused, open_cases, open_rectifications, record_step, steps_of
from node.rules.callbacks import RECORDED, SAMPLED
from node.rules.deadlines import add_working_days
from node.rules.rectification import CLOSED, OPENED, RECTIFIED, REPORTED, REVISITED, REVISITING, VERIFIED
from provisioning.operators import create_operator
from provisioning.region import CHINA
from storage.database import db
from storage.models import AuditEntry, Callback, EventRecord, Rectification
from sync.projection import RuleViolation
from web import create_app

DECEMBER = dt.datetime(2026, 12, 7, 10, 0, tzinfo=CHINA)  # a Monday
PHONE = RESIDENT.phone.replace(" ", "")
CLERK = {"by": "zhou", "by_name": "周科员", "staff_no": "A017"}


@pytest.fixture
def clock():
    return FrozenClock(int(DECEMBER.timestamp() * 1000))


@pytest.fixture
def county(county_template, tmp_path, clock):
    """The provisioned county hub on a clock the test moves, with a clerk."""
    shutil.copytree(county_template.county.data_dir, tmp_path / "county")
    node = open_node(NodeConfig(tmp_path / "county"), clock)
    create_operator(
        node.events, node.identity.station, username="zhou", name="周科员", role="clerk", password="clerk-pass-1"
    )
    yield node
    db.close()


def decided(node, token: str) -> str:
    number = file(node, token=token)
    transition(node.events, number, "application.accepted", {"by": "zhou"})
    transition(node.events, number, "application.decided", {"by": "zhou", "approved": True})
    return number


def rated(node, token: str, grade: str, reasons: list[str]) -> str:
    number = decided(node, token)
    transition(node.events, number, "application.delivered", {"by": "zhou"})
    rate(node.events, number, grade, reasons, "跑了三趟才办成", "query")
    return number


def today(node) -> dt.date:
    return node.now().astimezone(CHINA).date()


def test_a_low_rating_opens_one_case_that_closes_only_after_the_revisit(county):
    low = rated(county, "low", "very_dissatisfied", ["slow", "attitude"])
    rated(county, "fine", "satisfied", [])
    holidays, catalogues = county.reference.holidays(), county.reference.catalogues()
    assert open_rectifications(county, today(county), holidays, catalogues) == 1
    assert open_rectifications(county, today(county), holidays, catalogues) == 0  # one case per 差评
    row = Rectification.get_by_id(low)
    assert row.county == county.identity.station and row.grade == "very_dissatisfied" and row.comment
    assert row.department == item().department and row.department_code == item().department_code
    assert row.due == add_working_days(today(county), 15, holidays).due
    assert EventRecord.get(EventRecord.type == OPENED).stream == county.identity.station

    with pytest.raises(FollowUpRefused, match="下一步应为：核实"):
        record_step(county, low, REVISITED, {"note": "已回访", "reached": True, "satisfied": True}, CLERK)
    record_step(county, low, VERIFIED, {"note": "窗口确实让群众多跑了两趟", "finding": "founded"}, CLERK)
    record_step(county, low, RECTIFIED, {"note": "一次性告知单补全了材料清单"}, CLERK)
    with pytest.raises(FollowUpRefused, match="请写明报告情况"):
        record_step(county, low, REPORTED, {"note": "  "}, CLERK)
    record_step(county, low, REPORTED, {"note": "整改报告已报县政务服务管理局"}, CLERK)
    assert Rectification.get_by_id(low).state == REVISITING and open_cases(county.identity.station, today(county))

    callee = callee_for_call(county, low, "zhou", "差评整改回访")
    assert (callee.name, callee.phone) == (RESIDENT.name, PHONE)
    record_step(county, low, REVISITED, {"note": "电话无人接听", "reached": False}, CLERK)
    assert Rectification.get_by_id(low).state == REVISITING  # not reached: still open
    record_step(county, low, REVISITED, {"note": "群众认可整改", "reached": True, "satisfied": True}, CLERK)
    row = Rectification.get_by_id(low)
    assert (row.state, row.closed_on, row.revisit_tries, row.satisfied) == (CLOSED, today(county), 2, True)
    assert not open_cases(county.identity.station, today(county))
    assert [s.name for s in steps_of(low)] == ["差评转整改", "核实", "整改", "报告", "回访", "回访"]
    assert steps_of(low)[1].by == "周科员" and steps_of(low)[1].note.startswith("属实：")
    with pytest.raises(FollowUpRefused):
        record_step(county, low, REVISITED, {"note": "再访", "reached": True, "satisfied": True}, CLERK)

    entry = AuditEntry.get(AuditEntry.action == VIEW_PHONE)
    assert (entry.actor, entry.subject, entry.outcome) == ("zhou", low, "ok")

    county.events.rebuild()
    row = Rectification.get_by_id(low)
    assert (row.state, row.revisit_tries, row.finding) == (CLOSED, 2, "founded")
    assert open_rectifications(county, today(county), holidays, catalogues) == 0  # the rebuild opened nothing twice


def test_an_opening_for_another_county_s_station_is_refused_and_an_empty_month_records_nothing(county, clock):
    payload = {"number": "X-1", "station": "511303001001-01", "item_code": item().code, "department_code": "d"}
    payload |= {"department": "某局", "grade": "dissatisfied", "opened_on": "2026-12-07", "due": "2026-12-28"}
    with pytest.raises(RuleViolation, match="只有办件所在地的县级中心"):
        county.events.append(OPENED, "rectification:X-1", payload, stream=county.identity.station)
    clock.set_ms(int(dt.datetime(2027, 2, 6, 9, tzinfo=CHINA).timestamp() * 1000))
    assert draw_due(county, today(county)) == 0  # January: nothing closed
    assert not EventRecord.select().where(EventRecord.type.in_([OPENED, SAMPLED])).exists()


def test_a_month_sample_drawn_twice_is_the_same_list_and_calls_are_recorded(county, clock):
    numbers = [decided(county, f"dec-{n}") for n in range(5)]
    with pytest.raises(FollowUpRefused, match="尚未结束"):
        draw_month(county, "2026-12", today(county))
    clock.set_ms(int(dt.datetime(2027, 1, 4, 9, tzinfo=CHINA).timestamp() * 1000))
    assert draw_due(county, today(county)) is None  # too early: stations may still be bringing December up
    clock.set_ms(int(dt.datetime(2027, 1, 6, 9, tzinfo=CHINA).timestamp() * 1000))
    assert draw_due(county, today(county)) == 3  # one window, one station: five cases, at least three
    first = [line.number for line in call_list(county.identity.station, "2026-12", {})]
    assert draw_month(county, "2026-12", today(county)) == 3 and draw_due(county, today(county)) is None
    assert EventRecord.select().where(EventRecord.type == SAMPLED).count() == 1
    assert first == [line.number for line in call_list(county.identity.station, "2026-12", {})]
    assert set(first) <= set(numbers)

    called = first[0]
    assert callee_for_call(county, called, "zhou", "办件回访").phone == PHONE
    assert AuditEntry.select().where((AuditEntry.action == VIEW_PHONE) & (AuditEntry.subject == called)).count() == 1
    with pytest.raises(FollowUpRefused, match="未接通时不能记录满意度"):
        record_call(county, "2026-12", called, False, True, [], "", CLERK)
    record_call(county, "2026-12", called, False, None, [], "关机", CLERK)
    record_call(county, "2026-12", called, True, False, ["overdue", "repeat_trips"], "等了很久", CLERK)
    with pytest.raises(FollowUpRefused, match="已回访"):
        record_call(county, "2026-12", called, True, True, [], "", CLERK)
    line = next(line for line in call_list(county.identity.station, "2026-12", {}) if line.number == called)
    assert (line.outcome, line.tries, line.window) == ("不满意（超期、多次跑）", 2, county.identity.name)

    county.events.rebuild()
    assert [line.number for line in call_list(county.identity.station, "2026-12", {})] == first
    assert Callback.get_by_id(("2026-12", called)).tries == 2
    assert EventRecord.select().where(EventRecord.type == RECORDED).count() == 2


@pytest.fixture
def clerk(county):
    client = create_app(node=county).test_client()
    login(client, "zhou", "clerk-pass-1")
    return client


def _post(client, path: str, data: dict):
    return client.post(path, data={"csrf_token": token(client, path), **data})


def test_a_clerk_takes_a_case_through_its_pages_overdue_highlighted_and_the_phone_shown_only_at_the_revisit(
    county, clock, clerk
):
    number = rated(county, "web", "dissatisfied", ["materials"])
    county.follow_up()  # the scheduler's job
    listing = clerk.get("/rectifications/").get_data(as_text=True)
    assert number in listing and "待核实" in listing and "已超期" not in listing
    assert "整改回访" in listing  # the menu

    page = f"/rectifications/{number}"
    assert PHONE not in clerk.get(page).get_data(as_text=True)
    refused = _post(clerk, page, {"step": VERIFIED, "note": "属实"})
    assert "请选择核实结论" in refused.get_data(as_text=True)
    for step, data in (
        (VERIFIED, {"note": "材料清单缺一项", "finding": "founded"}),
        (RECTIFIED, {"note": "清单已更正"}),
        (REPORTED, {"note": "已报告"}),
    ):
        assert _post(clerk, page, {"step": step, **data}).status_code == 302
    assert AuditEntry.select().where(AuditEntry.action == VIEW_PHONE).count() == 0  # not shown before the 回访

    clock.advance(40 * 24 * 3600 * 1000)  # past the 15 working days
    listing = clerk.get("/rectifications/").get_data(as_text=True)
    assert 'class="due-overdue"' in listing and "已超期" in listing and "1 件整改已超过期限" in listing
    shown = clerk.get(page).get_data(as_text=True)
    assert PHONE in shown and "本次查看已记入操作记录" in shown
    before = AuditEntry.select().where(AuditEntry.action == VIEW_PHONE).count()
    done = _post(clerk, page, {"step": REVISITED, "note": "群众表示认可", "reached": "yes", "satisfied": "yes"})
    assert done.status_code == 302
    assert AuditEntry.select().where(AuditEntry.action == VIEW_PHONE).count() == before + 1  # each view audited
    assert Rectification.get_by_id(number).state == CLOSED and number not in clerk.get("/rectifications/").get_data(
        as_text=True
    )
    assert number in clerk.get("/rectifications/?closed=1").get_data(as_text=True)
    board = clerk.get("/dashboard/").get_data(as_text=True)
    assert 'id="rectification-rate">100.0%<' in board and "差评整改率（1 件立案）" in board


def test_the_dashboard_counts_open_and_overdue_rectifications_in_the_period(county, clock, clerk):
    numbers = [rated(county, f"dash-{n}", "dissatisfied", ["slow"]) for n in range(2)]
    county.follow_up()
    for step, data in ((VERIFIED, {"finding": "unfounded"}), (RECTIFIED, {}), (REPORTED, {})):
        record_step(county, numbers[0], step, {"note": "已办", **data}, CLERK)
    record_step(county, numbers[0], REVISITED, {"note": "认可", "reached": True, "satisfied": True}, CLERK)
    assert 'id="rectification-rate">50.0%<' in clerk.get("/dashboard/").get_data(as_text=True)
    opened = today(county).isoformat()
    assert "—" in clerk.get(f"/dashboard/?until={opened[:4]}-01-01").get_data(as_text=True)  # none opened then
    clock.advance(40 * 24 * 3600 * 1000)
    overdue = clerk.get("/dashboard/rectifications_overdue.csv").data.decode("utf-8-sig")
    assert numbers[1] in overdue and numbers[0] not in overdue
    departments = clerk.get("/dashboard/rectifications_departments.csv").data.decode("utf-8-sig")
    assert f"{item().department},2,1,50.0%,1" in departments


def test_the_call_list_and_a_call_through_the_pages(county, clock, clerk):
    numbers = {decided(county, f"call-{n}") for n in range(4)}
    clock.set_ms(int(dt.datetime(2027, 1, 2, 9, tzinfo=CHINA).timestamp() * 1000))
    assert "现在抽取 2026-12 的回访样本" in clerk.get("/callbacks/").get_data(as_text=True)
    drawn = clerk.post("/callbacks/draw", data={"csrf_token": token(clerk, "/callbacks/")})
    assert drawn.status_code == 302
    listing = clerk.get("/callbacks/?month=2026-12").get_data(as_text=True)
    listed = [n for n in numbers if f"/callbacks/2026-12/{n}" in listing]
    assert len(listed) == 3 and "现在抽取" not in listing and PHONE not in listing  # no phone on the list

    page = f"/callbacks/2026-12/{listed[0]}"
    assert PHONE in clerk.get(page).get_data(as_text=True)
    refused = _post(clerk, page, {"reached": "yes"})
    assert "接通时请选择群众是否满意" in refused.get_data(as_text=True)
    done = _post(
        clerk, page, {"reached": "yes", "satisfied": "no", "problems": ["attitude", "other"], "comment": "窗口说话生硬"}
    )
    assert done.status_code == 302
    listing = clerk.get("/callbacks/?month=2026-12").get_data(as_text=True)
    assert "不满意（态度差、其他）：窗口说话生硬" in listing and "已接通 1/3" in listing
    views = AuditEntry.select().where((AuditEntry.action == VIEW_PHONE) & (AuditEntry.subject == listed[0])).count()
    assert views == 4  # every showing: the page, then before and after the refused form, then before the outcome
    assert 'id="callback-rate">33.3%<' in clerk.get("/dashboard/").get_data(as_text=True)
    windows = clerk.get("/dashboard/callbacks_windows.csv").data.decode("utf-8-sig")
    assert f"{county.identity.station},{county.identity.name},3,1,33.3%,0,1,0,0,0,1,1" in windows
