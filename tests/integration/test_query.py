"""办件查询 on a county hub through the Flask test client, with no login: a filed case is found by its query
code or its number with the right ID tail; a wrong tail and an unknown code get the same answer; five wrong
tails lock the case; the answer names bodies, never logins, and shows no full ID or name."""

from __future__ import annotations

import dataclasses
import io

import pytest
from pypdf import PdfReader

from harness.cases import STATION, case_log, filing, item
from harness.web import login, token
from node.cases import tracking
from node.cases.intake import id_tail_check, transition
from node.cases.tracking import NoMatch, QueryGuard, TooMany, look_up
from node.catalogue.data import sample_catalogue
from node.printing.dossier import paper_for, query_url
from node.printing.render import render
from node.rules import querycode
from storage.models import Application, EventRecord, Station
from web import create_app

FULL_ID = "11010519491231002X"


@pytest.fixture
def app(county_node):
    return create_app(node=county_node)


@pytest.fixture
def number(app):
    """One application filed by agent li through the workbench."""
    clerk = app.test_client()
    login(clerk, "li", "agent-pass-1")
    item = next(i for i in sample_catalogue().current() if i.proxy_allowed and i.promised_limit.days > 0)
    response = clerk.post(
        "/work/new",
        data={
            "csrf_token": token(clerk, f"/work/new?item={item.code}"),
            "request_token": "9e57" * 8,
            "item": item.code,
            "name": "张秀英",
            "id_number": FULL_ID,
            "phone": "13800138000",
            "address": "青山村3组",
            "consent": "yes",
        },
    )
    return response.headers["Location"].rsplit("/", 1)[1]


def ask(client, code: str, tail: str):
    return client.post("/query", data={"csrf_token": token(client, "/query"), "code": code, "id_tail": tail})


def test_a_resident_finds_the_case_by_code_or_number_with_the_right_tail(app, number, county_node):
    row = Application.get_by_id(number)
    assert querycode.check(row.query_code) is None and row.masked_name == "张**"
    client = app.test_client()
    page = client.get("/query").get_data(as_text=True)
    assert 'name="csrf_token"' in page and 'name="code" value="" required maxlength="64"' in page
    assert "autofocus" in page.split('name="code"')[1].split(">")[0]  # the first field
    scanned = client.get(f"/query?code={row.query_code}").get_data(as_text=True)  # the receipt's QR code
    assert "autofocus" in scanned.split('name="id_tail"')[1].split(">")[0]  # only the tail to type
    for code in (querycode.grouped(row.query_code).lower(), number):
        answer = ask(client, code, "002x")
        text = answer.get_data(as_text=True)
        assert answer.status_code == 200, text
        assert "材料已提交，等待受理" in text and number in text and "张**" in text
        assert Station.get_by_id(county_node.identity.station).name in text  # who did it, by name
        assert "受理后按承诺时限计算" in text
        assert FULL_ID not in text and "张秀英" not in text and ">li<" not in text and "cun.agent" not in text


def test_a_wrong_tail_and_an_unknown_code_get_the_same_answer_and_five_wrong_tails_lock_the_case(app, number):
    client = app.test_client()
    code = Application.get_by_id(number).query_code
    unknown = "".join(reversed(code[:-1]))
    unknown += querycode.check_character(unknown)
    wrong, nobody = ask(client, code, "1234"), ask(client, unknown, "002X")
    assert wrong.status_code == nobody.status_code == 404
    said = [r.get_data(as_text=True).split('role="alert">')[1].split("<")[0] for r in (wrong, nobody)]
    assert said[0] == said[1] and said[0].startswith("没有查到")
    for _ in range(4):
        assert ask(client, number, "1234").status_code == 404  # the number counts against the same case
    locked = ask(client, code, "002X")  # the right tail, too late
    assert locked.status_code == 429 and "查询已锁定" in locked.get_data(as_text=True)
    assert ask(client, "ABCDE", "002X").status_code == 400  # what is no code at all is told so


def test_the_json_endpoint_answers_without_a_session_or_csrf_token(app, number):
    client = app.test_client()
    code = Application.get_by_id(number).query_code
    answer = client.post("/api/v1/query", json={"code": code, "id_tail": "002X"})
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["number"] == number and body["masked_name"] == "张**" and body["missing"] == []
    assert isinstance(body["timeline"], list) and body["timeline"][0]["what"] == "提交"
    assert set(body["timeline"][0]) == {"at", "body", "what"} and body["due"] is None
    refused = client.post("/api/v1/query", json={"code": code, "id_tail": "0000"})
    assert refused.status_code == 404 and refused.get_json()["error"] == "no_match"
    typed = client.post("/api/v1/query", json={"code": code, "id_tail": 2})
    assert typed.status_code == 400 and "id_tail" in typed.get_json()["message"]
    assert client.post("/api/v1/query", json={"code": code}).status_code == 400


def test_a_corrections_request_tells_exactly_what_is_missing(app, number, county_node):
    transition(county_node.events, number, "application.corrections_requested", {"by": "zhou", "reason": "照片模糊"})
    found = look_up(
        QueryGuard(),
        sample_catalogue(),
        code_or_number=number,
        id_tail="002X",
        client="198.51.100.7",
    )
    assert found.missing == ("照片模糊",) and found.state.startswith("需要补正")
    assert [line.what for line in found.timeline] == ["提交", "要求补正"]
    assert "zhou" not in repr(found)
    transition(county_node.events, number, "application.corrected", {"by": "li"})
    transition(
        county_node.events,
        number,
        "application.corrections_requested",
        {"by": "zhou", "reason": "见清单", "items": ["户口簿原件", "出生医学证明复印件"]},
    )
    found = look_up(QueryGuard(), sample_catalogue(), code_or_number=number, id_tail="002X", client="x")
    assert found.missing == ("户口簿原件", "出生医学证明复印件")


def test_one_client_is_held_back_across_cases(number):
    guard = QueryGuard(per_client="3 per 10 minutes")
    for _ in range(3):
        with pytest.raises(NoMatch):
            look_up(guard, sample_catalogue(), code_or_number=number, id_tail="0000", client="203.0.113.9")
    with pytest.raises(TooMany) as refused:
        look_up(guard, sample_catalogue(), code_or_number=number, id_tail="002X", client="203.0.113.9")
    assert "查询太频繁" in str(refused.value) and refused.value.details["retry_after_s"] > 0
    assert look_up(guard, sample_catalogue(), code_or_number=number, id_tail="002X", client="other").number == number


def test_the_receipt_prints_the_query_code_and_the_county_hubs_query_address(app, number, county_node, monkeypatch):
    code = Application.get_by_id(number).query_code
    clerk = app.test_client()
    login(clerk, "li", "agent-pass-1")
    plain = PdfReader(io.BytesIO(clerk.get(f"/work/a/{number}/print/receipt.pdf").data)).pages[0].extract_text()
    assert f"查询码：{querycode.grouped(code)}" in plain
    hub = county_node.identity.issuer_url or county_node.identity.parent_url
    assert query_url(county_node) == (f"{hub.rstrip('/')}/query" if hub else "")
    public = "https://query.county.example.gov.cn/query"
    monkeypatch.setattr(county_node, "config", dataclasses.replace(county_node.config, public_query_url=public))
    paper = paper_for(county_node, number, sample_catalogue())
    assert (paper.query_code, paper.query_url) == (code, public)
    text = PdfReader(io.BytesIO(render("receipt", paper))).pages[0].extract_text()
    assert f"查询网址：{public}" in text and querycode.grouped(code) in text
    old = dataclasses.replace(paper, query_code="", query_url="")  # filed before query codes: no block
    assert "查询码" not in PdfReader(io.BytesIO(render("receipt", old))).pages[0].extract_text()


def test_an_unknown_code_costs_the_same_scrypt_and_comparison_as_a_wrong_tail(number, monkeypatch):
    tracking._nobody()  # made once per process, before the calls counted here
    calls = []
    real = tracking.id_tail_check
    monkeypatch.setattr(tracking, "id_tail_check", lambda code, tail: calls.append(code) or real(code, tail))
    compared = []
    monkeypatch.setattr(tracking.hmac, "compare_digest", lambda a, b: compared.append((a, b)) or a == b)
    unknown = "23456789A"
    for code in (Application.get_by_id(number).query_code, unknown + querycode.check_character(unknown)):
        with pytest.raises(NoMatch):
            look_up(QueryGuard(), sample_catalogue(), code_or_number=code, id_tail="1234", client="x")
    assert len(calls) == len(compared) == 2


def test_an_application_filed_before_query_codes_is_not_found_by_its_number(number):
    Application.update(query_code=None, id_tail_check=None).where(Application.number == number).execute()
    with pytest.raises(NoMatch):
        look_up(QueryGuard(), sample_catalogue(), code_or_number=number, id_tail="002X", client="x")


def test_the_json_endpoint_tells_a_busy_client_when_to_come_back(app, number):
    app.extensions["query_guard"] = QueryGuard(per_client="2 per minute")
    client = app.test_client()
    for _ in range(2):
        assert client.post("/api/v1/query", json={"code": number, "id_tail": "002X"}).status_code == 200
    busy = client.post("/api/v1/query", json={"code": number, "id_tail": "002X"})
    assert busy.status_code == 429 and busy.get_json()["error"] == "too_many_queries"
    assert 0 < int(busy.headers["Retry-After"]) <= 60 and "后再试" in busy.get_json()["message"]


@pytest.mark.parametrize("any_database", ["sqlite", "postgresql"], indirect=True)
def test_a_hub_that_cannot_decrypt_answers_for_a_case_relayed_to_it(migrated, make_log):
    """The city holds no data key of the case: the payload's tail check is all it needs."""
    log, village, county = case_log(make_log)
    number, code = f"{STATION}-20261118-ABCD00001", querycode.make()
    filed = village.add(
        "application.filed",
        number,
        filing(number, item().code) | {"query_code": code, "id_tail_check": id_tail_check(code, "002X")},
        day=0,
    )
    county.add("application.accepted", number, {"by": "zhou"}, day=0.1, deps=(filed,))
    village.send(log, 1)
    county.send(log, 1)
    found = look_up(QueryGuard(), sample_catalogue(), code_or_number=code, id_tail="002X", client="x")
    assert found.number == number and [line.what for line in found.timeline] == ["提交", "受理"]
    assert found.masked_name == "" and found.due is not None  # filed without one: nothing invented
    with pytest.raises(NoMatch):
        look_up(QueryGuard(), sample_catalogue(), code_or_number=code, id_tail="0000", client="x")


def test_a_handed_over_case_is_rated_by_the_resident_on_the_query_page(app, number, county_node):
    for step, payload in (
        ("application.accepted", {"by": "zhou"}),
        ("application.decided", {"by": "zhou", "approved": True}),
        ("application.delivered", {"by": "li"}),
    ):
        transition(county_node.events, number, step, payload)
    code = Application.get_by_id(number).query_code
    resident = app.test_client()
    assert "请您评价本次服务" in ask(resident, code, "002X").get_data(as_text=True)

    def rate(tail: str, **fields):
        form = {"csrf_token": token(resident, "/query"), "code": number, "id_tail": tail, **fields}
        return resident.post("/query/rate", data=form)

    assert rate("1234", grade="satisfied").status_code == 404  # the tail is checked again: no rating without it
    low = rate("002X", grade="very_dissatisfied")
    assert low.status_code == 400 and "原因" in low.get_data(as_text=True)  # a low grade asks for a reason
    assert Application.get_by_id(number).rating_grade is None
    assert rate("002X", grade="satisfied").status_code == 200
    row = Application.get_by_id(number)
    assert row.rating_grade == "satisfied" and row.state == "rated"
    again = ask(resident, code, "002X").get_data(as_text=True)
    assert "请您评价本次服务" not in again and "追加评价" in again  # rated once; additions for a while
    assert rate("002X", action="add", comment="领证时窗口很耐心").status_code == 200
    added = EventRecord.select().where(EventRecord.type == "application.rating_added").count()
    assert added == 1
