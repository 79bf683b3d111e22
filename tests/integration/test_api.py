"""The JSON API: the same rules as the pages, CSRF on writes, and an OpenAPI document that covers every route."""

from __future__ import annotations

import pytest

from harness.cases import item as an_item
from harness.web import intake, login
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
        f"/api/v1/applications/{number}/application.accepted", json={}, headers={"X-CSRFToken": token}
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
