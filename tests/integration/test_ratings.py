"""好差评 on a county hub through the Flask test client and the domain: the resident rates through a one-time
token page (no staff session behind it), once; additions within the period; staff cannot rate by any route;
ratings from before the grades (stars) still project."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from harness.cases import STATION, a_case, case_log, file
from harness.web import login, token
from node.cases.intake import IntakeRefused, transition
from node.cases.queries import timeline
from node.cases.ratings import add, rate, rate_by_token
from storage.models import Application, EventRecord, RatingToken
from web import create_app


@pytest.fixture
def delivered(county_node):
    number = file(county_node)
    for step, payload in (
        ("application.accepted", {"by": "zhou"}),
        ("application.decided", {"by": "zhou", "approved": True}),
        ("application.delivered", {"by": "li"}),
    ):
        transition(county_node.events, number, step, payload)
    return number


@pytest.fixture
def app(county_node):
    return create_app(node=county_node)


def _open_rating_page(agent, number: str) -> str:
    """The agent's click on 请群众评价: the page it opens (its path holds the token)."""
    response = agent.post(f"/work/a/{number}/rating-token", data={"csrf_token": token(agent, f"/work/a/{number}")})
    assert response.status_code == 302 and response.headers["Location"].startswith("/rate/")
    return response.headers["Location"]


def test_the_resident_rates_once_through_the_token_page_and_the_timeline_shows_the_grade(app, delivered):
    agent = app.test_client()
    login(agent, "li", "agent-pass-1")
    assert "请群众评价" in agent.get(f"/work/a/{delivered}").get_data(as_text=True)
    path = _open_rating_page(agent, delivered)
    assert RatingToken.select().count() == 1 and path.rsplit("/", 1)[1] not in RatingToken.get().digest  # hashed

    resident = app.test_client()  # another browser, no session at all: the token is the only credential
    page = resident.get(path).get_data(as_text=True)
    assert "非常不满意" in page and "办事时间长" in page and "李代办" not in page and "退出" not in page
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    refused = resident.post(path, data={"csrf_token": csrf, "grade": "dissatisfied"})
    assert "请至少选择一项原因" in refused.get_data(as_text=True)  # a refused rating leaves the token usable
    assert not EventRecord.select().where(EventRecord.type == "application.rated").exists()
    done = resident.post(
        path,
        data={"csrf_token": csrf, "grade": "dissatisfied", "reasons": ["slow", "materials"], "comment": "跑了两趟"},
    )
    assert done.status_code == 302 and "谢谢您的评价" in resident.get(done.headers["Location"]).get_data(as_text=True)

    row = Application.get_by_id(delivered)
    assert (row.state, row.rating_grade, row.rating, row.rating_comment) == ("rated", "dissatisfied", 2, "跑了两趟")
    rated = EventRecord.get(EventRecord.type == "application.rated")
    assert rated.origin == app.extensions["onetrip"].identity.installation  # signed by the station's key
    last = timeline(delivered)[-1]
    assert last.note == "不满意（办事时间长、材料要求多或反复跑）：跑了两趟" and last.by == "群众本人，评价页面"
    shown = agent.get(f"/work/a/{delivered}").get_data(as_text=True)
    assert "不满意（办事时间长、材料要求多或反复跑）" in shown and "请群众评价" not in shown

    again = resident.post(path, data={"csrf_token": csrf, "grade": "very_satisfied"})
    assert again.status_code == 410 and "已使用" in again.get_data(as_text=True)  # the token works once
    second = agent.post(f"/work/a/{delivered}/rating-token", data={"csrf_token": token(agent, f"/work/a/{delivered}")})
    assert second.status_code == 409 and "一件只评一次" in second.get_data(as_text=True)
    assert EventRecord.select().where(EventRecord.type == "application.rated").count() == 1


def test_the_rating_page_does_not_act_with_a_logged_in_agents_authority(app, delivered):
    agent = app.test_client()
    login(agent, "li", "agent-pass-1")
    path = _open_rating_page(agent, delivered)
    page = agent.get(path).get_data(as_text=True)  # the same browser, the agent still logged in
    assert "李代办" not in page and "办件</a>" not in page  # no staff navigation on the resident's page
    agent.post(path, data={"csrf_token": token(agent, path), "grade": "very_satisfied"})
    payload = timeline(delivered)[-1]
    assert payload.by == "群众本人，评价页面"  # the operator's name is nowhere in the event
    body = bytes(EventRecord.get(EventRecord.type == "application.rated").body).decode()
    assert '"by"' not in body and '"channel":"token"' in body


def test_an_unknown_or_expired_token_is_refused_and_changes_nothing(app, county_node, delivered):
    resident = app.test_client()
    assert resident.get("/rate/made-up").status_code == 410
    agent = app.test_client()
    login(agent, "li", "agent-pass-1")
    path = _open_rating_page(agent, delivered)
    later = county_node.now() + dt.timedelta(minutes=31)
    with pytest.raises(IntakeRefused, match="已过期"):
        rate_by_token(county_node.events, path.rsplit("/", 1)[1], "satisfied", [], "", later)
    assert Application.get_by_id(delivered).rated_on is None


def test_a_rating_before_delivery_is_refused_and_the_page_offers_none(app, county_node):
    number = file(county_node)
    agent = app.test_client()
    login(agent, "li", "agent-pass-1")
    assert "请群众评价" not in agent.get(f"/work/a/{number}").get_data(as_text=True)
    response = agent.post(f"/work/a/{number}/rating-token", data={"csrf_token": token(agent, f"/work/a/{number}")})
    assert response.status_code == 409 and "不能评价" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("username", "password"), [("li", "agent-pass-1"), ("zhou", "clerk-pass-1"), ("wang", "county-admin-1")]
)
def test_no_staff_route_rates_in_the_residents_name(app, county_node, delivered, username, password):
    staff = app.test_client()
    login(staff, username, password)
    page = staff.get(f"/work/a/{delivered}").get_data(as_text=True)
    assert 'name="stars"' not in page and "application.rated" not in page
    for step in ("application.rated", "application.rating_added"):
        form = staff.post(f"/work/a/{delivered}/{step}", data={"csrf_token": token(staff, f"/work/a/{delivered}")})
        assert form.status_code in (403, 404)
    csrf = staff.get("/api/v1/csrf").json["token"]
    api = staff.post(
        f"/api/v1/applications/{delivered}/application.rated", json={"stars": 5}, headers={"X-CSRFToken": csrf}
    )
    assert api.status_code in (400, 403)
    with pytest.raises(IntakeRefused, match="不能代为评价"):
        transition(county_node.events, delivered, "application.rated", {"grade": "very_satisfied", "by": username})
    assert Application.get_by_id(delivered).rated_on is None


def test_an_application_is_rated_once_and_added_to_within_the_period(county_node, delivered):
    rate(county_node.events, delivered, "very_satisfied", [], "", "query")
    with pytest.raises(IntakeRefused, match="一件只评一次"):
        rate(county_node.events, delivered, "dissatisfied", ["slow"], "", "query")
    today = Application.get_by_id(delivered).rated_on
    add(county_node.events, delivered, "证照已收到，谢谢", "query", today)
    assert timeline(delivered)[-1].note == "证照已收到，谢谢"
    with pytest.raises(IntakeRefused, match="15 天内"):
        add(county_node.events, delivered, "再补一句", "query", today + dt.timedelta(days=16))
    assert Application.get_by_id(delivered).rating_grade == "very_satisfied"


@pytest.fixture
def hub_log(migrated, make_log):
    return case_log(make_log)


def test_a_second_rating_or_a_late_addition_from_elsewhere_is_quarantined_and_old_stars_still_project(hub_log):
    log, village, county = hub_log
    number = f"{STATION}-20261118-AAAA00001"
    a_case(village, county, number)  # rated with two stars, as events were before the grades
    rated = county.events[-1][0]
    county.add("application.rated", number, {"grade": "very_satisfied", "channel": "query"}, day=7, deps=(rated,))
    county.add("application.rating_added", number, {"comment": "补充", "channel": "query"}, day=6 + 20, deps=(rated,))
    county.add("application.rating_added", number, {"comment": "补充", "channel": "token"}, day=8, deps=(rated,))
    village.send(log, 2)
    county.send(log, 7)
    row = Application.get()
    assert (row.state, row.rating, row.rating_grade, row.rating_comment) == ("rated", 2, "dissatisfied", "等太久")
    statuses = {
        (r.type, r.seq): r.status
        for r in EventRecord.select().where(EventRecord.type.in_(["application.rated", "application.rating_added"]))
    }
    assert sorted(statuses.values()) == ["applied", "applied", "quarantined", "quarantined"]
    assert [s.note for s in timeline(number) if s.event_type.startswith("application.rat")] == [
        "不满意：等太久",
        "补充",
    ]
    log.rebuild()
    assert Application.get().rating_grade == "dissatisfied"
