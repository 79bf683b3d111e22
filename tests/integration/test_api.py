"""The JSON API: the same rules as the pages, CSRF on writes, and an OpenAPI document that covers every route."""

from __future__ import annotations

import pytest

from harness.cases import item as an_item
from harness.web import intake, login, received
from storage.models import Application
from web import create_app


@pytest.fixture
def app(county_node):
    return create_app(node=county_node)


def test_filing_and_acting_through_the_api_follow_the_same_rules(app):
    agent = app.test_client()
    login(agent, "li", "agent-pass-1")
    csrf = agent.get("/api/v1/csrf").json["token"]
    assert agent.post("/api/v1/applications", json=intake(an_item())).status_code == 400  # no CSRF header
    created = agent.post("/api/v1/applications", json=intake(an_item()), headers={"X-CSRFToken": csrf})
    assert created.status_code == 201
    number = created.json["numbers"][0]
    again = agent.post("/api/v1/applications", json=intake(an_item()), headers={"X-CSRFToken": csrf})
    assert again.json["numbers"] == [number] and Application.select().count() == 1
    assert (
        agent.post(
            f"/api/v1/applications/{number}/application.accepted", json={}, headers={"X-CSRFToken": csrf}
        ).status_code
        == 403
    )

    clerk = app.test_client()
    login(clerk, "zhou", "clerk-pass-1")
    token = clerk.get("/api/v1/csrf").json["token"]
    accepted = clerk.post(
        f"/api/v1/applications/{number}/application.accepted",
        json={"materials": received(an_item())},
        headers={"X-CSRFToken": token},
    )
    assert accepted.json["state"] == "accepted" and accepted.json["due"]
    refused = clerk.post(
        f"/api/v1/applications/{number}/application.not_accepted",
        json={"reason": "迟了"},
        headers={"X-CSRFToken": token},
    )
    assert refused.status_code == 400 and refused.json["error"] == "illegal_transition"
    listed = clerk.get("/api/v1/applications?q=11010519491231002X").json
    assert listed["total"] == 1 and listed["items"][0]["masked_id"] == "110***********002X"
    assert [s["event"] for s in clerk.get(f"/api/v1/applications/{number}").json["timeline"]] == [
        "application.filed",
        "application.accepted",
    ]


def test_a_bad_intake_lists_every_problem_as_json(app):
    agent = app.test_client()
    login(agent, "li", "agent-pass-1")
    csrf = agent.get("/api/v1/csrf").json["token"]
    body = intake(an_item())
    body["applicant"]["id_number"] = "110105194912310021"
    body["consent"] = False
    response = agent.post("/api/v1/applications", json=body, headers={"X-CSRFToken": csrf})
    assert response.status_code == 400 and response.json["error"] == "intake_refused"
    assert len(response.json["problems"]) == 2


def test_the_api_needs_a_login(app):
    response = app.test_client().get("/api/v1/applications")
    assert response.status_code == 401 and response.json["error"] == "unauthorized"  # not a login page


def test_the_openapi_document_covers_every_api_route(app):
    document = app.test_client().get("/api/v1/openapi.json").json
    documented = {path.replace("{", "<").replace("}", ">") for path in document["paths"]}
    routes = {
        rule.rule.replace("<event_type>", "<event>")
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        and "enrol" not in rule.rule
        and "/sync/" not in rule.rule  # signed and sealed machine endpoints: docs/protocol.md
        and "seals/request" not in rule.rule  # a machine endpoint like enrolment's: sealed bytes both ways
        and rule.rule not in ("/api/v1/openapi.json", "/api/v1/trust")
    }
    assert routes <= documented, routes - documented


def test_a_terminal_uploads_and_reads_back_scans_and_asks_for_corrections_with_items_through_the_api(app):
    """What the pages do, a 自助终端 does over JSON: scans in and out, a 补正 request with its items and days."""
    agent = app.test_client()
    login(agent, "li", "agent-pass-1")
    csrf = {"X-CSRFToken": agent.get("/api/v1/csrf").json["token"]}
    number = agent.post("/api/v1/applications", json=intake(an_item()), headers=csrf).json["numbers"][0]
    scan = b"\xff\xd8\xff\xe0" + b"\x00" * 2000  # a JPEG's opening bytes
    url = f"/api/v1/applications/{number}/materials"
    stored = agent.post(f"{url}/hukou", data=scan, headers={**csrf, "Content-Type": "image/jpeg"})
    assert stored.status_code == 201
    [listed] = agent.get(url).json["items"]
    assert listed["material"] == "hukou" and listed["content_type"] == "image/jpeg" and listed["size"] == len(scan)
    back = agent.get(f"{url}/{stored.json['blob']}")
    assert back.data == scan and back.mimetype == "image/jpeg"
    assert agent.post(f"{url}/hukou", data=b"MZ\x90\x00", headers=csrf).status_code == 400  # not a scan
    assert agent.post(f"{url}/result:批文", data=b"%PDF-1.4\n", headers=csrf).status_code == 403  # clerks' only
    assert agent.post(f"{url}/licence:执照", data=b"%PDF-1.4\n", headers=csrf).status_code == 400
    assert len(agent.get(url).json["items"]) == 1  # the refusals stored nothing

    clerk = app.test_client()
    login(clerk, "zhou", "clerk-pass-1")
    token = {"X-CSRFToken": clerk.get("/api/v1/csrf").json["token"]}
    asked = clerk.post(
        f"/api/v1/applications/{number}/application.corrections_requested",
        json={"items": ["户口簿首页复印件"], "deadline_days": 10},
        headers=token,
    )
    assert asked.status_code == 200 and asked.json["state"] == "corrections_requested"
    too_long = clerk.post(
        f"/api/v1/applications/{number}/application.corrections_requested",
        json={"items": ["x"], "deadline_days": 61},
        headers=token,
    )
    assert too_long.status_code == 400 and "deadline_days" in too_long.json["message"]
    from node.cases.queries import applied_events

    [request] = [e for e in applied_events(number) if e.type == "application.corrections_requested"]
    assert request.payload["items"] == ["户口簿首页复印件"] and request.payload["deadline"]  # the date counted here
