"""容缺受理 through the workbench, the papers, the queue and the resident's query, on a county hub whose clock
moves on: a case whose deferred material comes late (warned on its page and in the queue, not counted as
supplied on time) and one whose deadline passes (ended by the window, the reason told to the resident)."""

from __future__ import annotations

import io
import shutil
import time

import peewee as pw
import pytest
from pypdf import PdfReader

from harness.cases import RESIDENT, STATION, T0, case_log, filing
from harness.clock import FrozenClock
from harness.tree import open_node
from harness.web import login, token
from node.cases.intake import file_for_resident, new_request_token
from node.cases.notices import queue_new
from node.cases.queries import timeline
from node.config import NodeConfig
from node.rules.notices import LAPSED
from node.rules.tally import COUNTERS
from provisioning.operators import create_operator
from storage.database import db
from storage.models import Application, EventRecord, Notice, Statistic
from sync.log import QUARANTINED
from web import create_app

ITEM = "11511302MB10060680-0002"  # 耕地地力保护补贴申报: the 承包经营权证 and the 一卡通 may be deferred
DAY_MS = 24 * 3600 * 1000
CONTRACT, CARD = "农村土地承包经营权证", "惠民惠农财政补贴“一卡通”存折或银行卡"


@pytest.fixture
def county(county_template, tmp_path):
    """A county hub on a clock the test moves, with a clerk (zhou) and an agent (li)."""
    shutil.copytree(county_template.county.data_dir, tmp_path / "county")
    clock = FrozenClock(int(time.time() * 1000))
    node = open_node(NodeConfig(tmp_path / "county"), clock=clock)
    for username, name, role, password in (
        ("li", "李代办", "agent", "agent-pass-1"),
        ("zhou", "周科员", "clerk", "clerk-pass-1"),
    ):
        create_operator(node.events, node.identity.station, username=username, name=name, role=role, password=password)
    yield node, clock
    db.close()


def file_case(node) -> str:
    (number,) = file_for_resident(
        node,
        node.reference.catalogue(),
        item_code=ITEM,
        applicant=RESIDENT,
        consent=True,
        operator="li",
        request_token=new_request_token(),
        now=node.now(),
    )
    return number


def clerk(node):
    app = create_app(node=node)
    app.config["TESTING"] = True
    client = app.test_client()
    login(client, "zhou", "clerk-pass-1")
    return client


def step(client, number: str, event_type: str, **fields):
    page = f"/work/a/{number}"
    return client.post(f"{page}/{event_type}", data={"csrf_token": token(client, page), **fields})


def accept(client, number: str, *, contract="deferred", card="copy", id_card="original", **fields):
    check = {"check.id_card": id_card, "check.land_contract_certificate": contract, "check.subsidy_card": card}
    return step(client, number, "application.accepted", **check, **fields)


def totals() -> dict[str, int]:
    sums = Statistic.select(*(pw.fn.COALESCE(pw.fn.SUM(getattr(Statistic, c)), 0) for c in COUNTERS))
    return dict(zip(COUNTERS, sums.scalar(as_tuple=True), strict=True))


def test_a_key_material_missing_is_refused_on_the_same_page_with_the_ticks_kept(county):
    node, _ = county
    number, client = file_case(node), clerk(node)
    refused = accept(client, number, id_card="missing")
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "申请人居民身份证尚未收到，不能受理：请收齐后受理，或要求补正" in page
    assert (
        'name="check.land_contract_certificate" value="deferred" aria-label="农村土地承包经营权证：容缺" checked'
        in page
    )
    nothing = step(client, number, "application.accepted")  # an old page without the check: only the scans count
    assert nothing.status_code == 400 and "尚未收到" in nothing.get_data(as_text=True)
    assert Application.get_by_id(number).state == "submitted"
    assert not EventRecord.select().where(EventRecord.type == "application.accepted").exists()
    assert (
        step(
            client,
            number,
            "application.accepted",
            **{
                "check.id_card": "original",
                "check.land_contract_certificate": "copy",
                "check.subsidy_card": "electronic",
            },
        ).status_code
        == 302
    )  # all received: one click with the ticks
    assert Application.get_by_id(number).deferral is None
    none = client.get(f"/work/a/{number}/print/deferral.pdf")
    assert none.status_code == 400 and "没有容缺受理的材料" in none.get_data(as_text=True)


def test_a_deferred_material_brought_late_is_warned_of_until_it_comes_and_not_counted_on_time(county):
    node, clock = county
    number, client = file_case(node), clerk(node)
    assert accept(client, number, deferral_days="10").status_code == 302
    row = Application.get_by_id(number)
    assert row.state == "accepted" and row.deferral_owed == 1 and row.deferral_due > row.accepted_on
    [accepted] = [s.payload for s in timeline(number) if s.event_type == "application.accepted"]
    assert accepted["materials"] == {
        "id_card": "original",
        "land_contract_certificate": "deferred",
        "subsidy_card": "copy",
    }
    assert accepted["deferral"]["items"] == [{"key": "land_contract_certificate", "name": CONTRACT}]
    assert accepted["deferral"] | {"deadline": "-"} == {
        "items": accepted["deferral"]["items"],
        "deadline_days": 10,
        "deadline": "-",
    }
    page = client.get(f"/work/a/{number}").get_data(as_text=True)
    assert f"{CONTRACT}：<strong>待补</strong>" in page and "打印容缺承诺书" in page and "已超过补齐期限" not in page
    promise = client.get(f"/work/a/{number}/print/deferral.pdf")
    said = "".join(page.extract_text() for page in PdfReader(io.BytesIO(promise.data)).pages).replace(" ", "")
    due = f"{row.deferral_due:%Y年%m月%d日}"
    assert "容缺受理承诺书" in said and CONTRACT in said and CARD not in said and f"于{due}前" in said
    assert "逾期未补齐的，受理单位可以终止办理本申请" in said and "申请人（签字）" in said and "受理人：周科员" in said
    receipt = client.get(f"/work/a/{number}/print/receipt.pdf")
    said = "".join(page.extract_text() for page in PdfReader(io.BytesIO(receipt.data)).pages).replace(" ", "")
    assert f"容缺，{due}前补齐" in said and "原件" in said
    assert "%E5%AE%B9%E7%BC%BA" in promise.headers["Content-Disposition"]  # 容缺受理承诺书-<number>.pdf

    queue = client.get("/work/?state=deferred").get_data(as_text=True)
    assert number in queue and "容缺待补 1" in queue and "容缺 1 项待补" in queue
    resident = create_app(node=node).test_client()
    answer = resident.post(
        "/query", data={"csrf_token": token(resident, "/query"), "code": row.query_code, "id_tail": "002X"}
    ).get_data(as_text=True)
    assert "还需补齐的容缺材料" in answer and CONTRACT in answer and f"{row.deferral_due.year} 年" in answer

    clock.advance(20 * DAY_MS)  # past ten working days
    page = client.get(f"/work/a/{number}").get_data(as_text=True)
    assert f"容缺材料“{CONTRACT}”已超过补齐期限（{row.deferral_due}）仍未补齐" in page
    queue = client.get("/work/").get_data(as_text=True)
    assert "1 件容缺受理的办件已过补齐期限仍未补齐材料" in queue and "容缺 1 项已逾期" in queue

    li = create_app(node=node).test_client()  # the agent records what the resident brought to the station
    login(li, "li", "agent-pass-1")
    assert step(li, number, "application.deferred_supplied", supplied="land_contract_certificate").status_code == 302
    row = Application.get_by_id(number)
    assert row.deferral_owed == 0 and row.state == "accepted"
    page = client.get(f"/work/a/{number}").get_data(as_text=True)
    assert "（逾期补齐）" in page and "已超过补齐期限" not in page
    assert number not in client.get("/work/?state=deferred").get_data(as_text=True)
    again = step(li, number, "application.deferred_supplied", supplied="land_contract_certificate")
    assert again.status_code == 400 and "补齐" in again.get_data(as_text=True)
    counted = totals()
    assert (counted["deferred"], counted["deferral_supplied"], counted["deferral_lapsed"]) == (1, 0, 0)


def test_a_deferral_past_its_deadline_lets_the_window_end_the_case_with_a_reason(county):
    node, clock = county
    number, client = file_case(node), clerk(node)
    assert accept(client, number, card="deferred", deferral_days="5").status_code == 302
    early = step(client, number, "application.deferral_lapsed", reason="逾期未补齐")
    assert early.status_code == 400 and "尚未届满" in early.get_data(as_text=True)
    assert "application.deferral_lapsed" not in client.get(f"/work/a/{number}").get_data(as_text=True)

    clock.advance(12 * DAY_MS)
    assert "application.deferral_lapsed" in client.get(f"/work/a/{number}").get_data(as_text=True)
    ended = step(client, number, "application.deferral_lapsed", reason="容缺材料逾期未补齐，依承诺终止办理")
    assert ended.status_code == 302
    row = Application.get_by_id(number)
    assert row.state == "deferral_lapsed" and "容缺逾期终止" in client.get(f"/work/a/{number}").get_data(as_text=True)
    assert number not in client.get("/work/?state=deferred").get_data(as_text=True)
    resident = create_app(node=node).test_client()
    answer = resident.post(
        "/query", data={"csrf_token": token(resident, "/query"), "code": row.query_code, "id_tail": "002X"}
    ).get_data(as_text=True)
    assert "容缺材料逾期未补齐，办件已终止" in answer and "还需补齐的容缺材料" not in answer
    assert step(client, number, "application.deferred_supplied", supplied="subsidy_card").status_code == 400
    counted = totals()
    assert (counted["deferred"], counted["deferral_supplied"], counted["deferral_lapsed"]) == (1, 0, 1)
    board = client.get("/dashboard/").get_data(as_text=True)
    assert "<td>容缺逾期终止件数</td><td>1</td>" in board and "<td>补齐率</td><td>0.0%</td>" in board
    queue_new(
        node, node.reference.catalogue(), int(node.now().timestamp() * 1000), lambda now: now
    )  # the resident is told by SMS
    [told] = Notice.select().where((Notice.number == number) & (Notice.kind == LAPSED))
    assert "已终止办理（容缺材料逾期未补齐，依承诺终止办理）" in told.text


def test_the_api_accepts_on_a_check_with_a_deferral_and_records_what_is_brought(county):
    node, _ = county
    number = file_case(node)
    client = clerk(node)
    client.environ_base["HTTP_X_CSRFTOKEN"] = client.get("/api/v1/csrf").json["token"]
    check = {"id_card": "original", "land_contract_certificate": "deferred", "subsidy_card": "deferred"}
    bad = client.post(f"/api/v1/applications/{number}/application.accepted", json={"materials": {"id_card": "lost"}})
    assert bad.status_code == 400 and bad.json["error"] == "invalid_body"
    url = f"/api/v1/applications/{number}/application.accepted"
    assert client.post(url, json={"materials": check, "deferral_days": 3}).status_code == 200
    supplied = client.post(
        f"/api/v1/applications/{number}/application.deferred_supplied", json={"items": ["subsidy_card"]}
    )
    assert supplied.status_code == 200 and supplied.json["deferral_owed"] == 1 and supplied.json["deferral_due"]
    receipt = client.get(f"/api/v1/applications/{number}/documents/receipt.pdf")
    assert receipt.status_code == 200
    board = client.get("/dashboard/").get_data(as_text=True)
    assert '<span class="figure" id="deferral-supply-rate">0.0%</span>补齐率（1 件待补，0 件逾期）' in board
    last = client.post(
        f"/api/v1/applications/{number}/application.deferred_supplied", json={"items": ["land_contract_certificate"]}
    )
    assert last.status_code == 200  # everything brought within the three working days
    board = client.get("/dashboard/").get_data(as_text=True)
    assert '<span class="figure" id="deferral-supply-rate">100.0%</span>补齐率（0 件待补，0 件逾期）' in board
    assert "<td>容缺件数</td><td>1</td>" in board and "<td>容缺按期补齐件数</td><td>1</td>" in board


# What arrives from elsewhere is checked the same way: the projection quarantines what breaks a rule.

NUMBER = f"{STATION}-20261118-ABCD00001"


def test_a_remote_acceptance_deferring_a_key_material_is_quarantined(migrated, make_log):
    log, village, county = case_log(make_log)
    filed = village.add("application.filed", NUMBER, filing(NUMBER, ITEM), day=0)
    deferral = {
        "items": [{"key": "id_card", "name": "申请人居民身份证"}],
        "deadline_days": 10,
        "deadline": "2026-12-02",
    }
    county.add("application.accepted", NUMBER, {"by": "zhou", "deferral": deferral}, day=0.1, deps=(filed,))
    village.send(log, 1)
    county.send(log, 1)
    assert Application.get_by_id(NUMBER).state == "submitted"
    assert EventRecord.get(EventRecord.type == "application.accepted").status == QUARANTINED


def test_the_station_and_the_window_may_both_record_a_material_brought_and_late_counts_as_late(migrated, make_log):
    log, village, county = case_log(make_log)
    filed = village.add("application.filed", NUMBER, filing(NUMBER, ITEM), day=0)
    deferral = {
        "items": [{"key": "subsidy_card", "name": CARD}],
        "deadline_days": 5,
        "deadline": "2026-11-25",  # five working days after Wednesday 18 November
    }
    accepted = county.add("application.accepted", NUMBER, {"by": "zhou", "deferral": deferral}, day=0.1, deps=(filed,))
    village.add(
        "application.deferred_supplied", NUMBER, {"by": "li", "items": ["subsidy_card"]}, day=9, deps=(accepted,)
    )
    county.add(
        "application.deferred_supplied", NUMBER, {"by": "zhou", "items": ["subsidy_card"]}, day=9.5, deps=(accepted,)
    )
    log.clock.clock.set_ms(T0 + 30 * DAY_MS)  # the hub hears of it all later
    for stream in (village, county):
        stream.send(log, len(stream.events))
    row = Application.get_by_id(NUMBER)
    assert row.deferral_owed == 0 and not EventRecord.select().where(EventRecord.status == QUARANTINED).exists()
    assert "2026-11-27" in row.deferral  # the day the station recorded it, the first
    counted = totals()
    assert (counted["deferred"], counted["deferral_supplied"]) == (1, 0)


def test_a_remote_lapse_before_the_deadline_is_quarantined(migrated, make_log):
    log, village, county = case_log(make_log)
    filed = village.add("application.filed", NUMBER, filing(NUMBER, ITEM), day=0)
    deferral = {"items": [{"key": "subsidy_card", "name": CARD}], "deadline_days": 5, "deadline": "2026-11-25"}
    accepted = county.add("application.accepted", NUMBER, {"by": "zhou", "deferral": deferral}, day=0.1, deps=(filed,))
    county.add("application.deferral_lapsed", NUMBER, {"by": "zhou", "reason": "逾期"}, day=3, deps=(accepted,))
    village.send(log, 1)
    county.send(log, 2)
    assert Application.get_by_id(NUMBER).state == "accepted"
    assert EventRecord.get(EventRecord.type == "application.deferral_lapsed").status == QUARANTINED
