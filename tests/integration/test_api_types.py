"""Untrusted input is checked by type and bounds before the domain sees it: a wrong shape answers 400 naming
the field, malformed JSON says so, an API call without a session answers 401, and nothing answers 500."""

from __future__ import annotations

import os
import time

import orjson
import pytest

from harness.cases import item as an_item
from harness.tree import open_node
from harness.web import GIVEN_PASSWORD, account_to_change, intake, login, received
from provisioning.trust import agreement_key, serving_installation
from storage.database import db
from storage.models import Application
from sync.request import BLOB_CONTEXT, PULL_CONTEXT, digest, seal_and_sign
from web import create_app


@pytest.fixture
def app(county_node):
    return create_app(node=county_node)


def _as(app, username: str, password: str):
    client = app.test_client()
    login(client, username, password)
    client.environ_base["HTTP_X_CSRFTOKEN"] = client.get("/api/v1/csrf").json["token"]
    return client


def _accepted(app) -> tuple[object, str]:
    number = _as(app, "li", "agent-pass-1").post("/api/v1/applications", json=intake(an_item())).json["numbers"][0]
    clerk = _as(app, "zhou", "clerk-pass-1")
    accepted = clerk.post(
        f"/api/v1/applications/{number}/application.accepted", json={"materials": received(an_item())}
    )
    assert accepted.status_code == 200
    return clerk, number


def test_a_decision_approved_as_a_string_is_refused_naming_the_field_and_changes_nothing(app):
    clerk, number = _accepted(app)
    response = clerk.post(f"/api/v1/applications/{number}/application.decided", json={"approved": "false"})
    assert response.status_code == 400 and response.json["error"] == "invalid_body"
    assert "approved" in response.json["message"] and "布尔" in response.json["message"]
    assert Application.get_by_id(number).state == "accepted"
    denied = clerk.post(
        f"/api/v1/applications/{number}/application.decided", json={"approved": False, "reason": "材料不符"}
    )
    assert denied.status_code == 200 and denied.json["state"] == "denied"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"stars": 5}, "stars"),  # no rating in an operator's step: the resident rates (node.cases.ratings)
        ({"reason": ["x"]}, "reason"),
        ({"reason": "长" * 501}, "reason"),
        ({"approved": True, "surprise": 1}, "surprise"),
    ],
)
def test_a_step_of_the_wrong_shape_names_the_field(app, body, field):
    clerk, number = _accepted(app)
    response = clerk.post(f"/api/v1/applications/{number}/application.decided", json=body)
    assert response.status_code == 400 and field in response.json["message"], response.json
    assert Application.get_by_id(number).state == "accepted"


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"5", b"null", b"true"])
def test_list_and_scalar_bodies_answer_400_not_500(app, body):
    agent = _as(app, "li", "agent-pass-1")
    response = agent.post("/api/v1/applications", data=body, content_type="application/json")
    assert response.status_code == 400 and response.json["error"] == "invalid_body", response.json
    assert "对象" in response.json["message"]
    clerk, number = _accepted(app)
    step = clerk.post(f"/api/v1/applications/{number}/application.decided", data=body, content_type="application/json")
    assert step.status_code == 400


def test_an_intake_names_the_nested_field_that_is_wrong(app):
    agent = _as(app, "li", "agent-pass-1")
    body = intake(an_item())
    body["applicant"]["name"] = 7
    response = agent.post("/api/v1/applications", json=body)
    assert response.status_code == 400 and "applicant.name" in response.json["message"]
    assert Application.select().count() == 0


def test_malformed_json_says_it_is_malformed(app):
    agent = _as(app, "li", "agent-pass-1")
    response = agent.post("/api/v1/applications", data=b'{"item": ', content_type="application/json")
    assert response.status_code == 400 and response.json["error"] == "malformed_json"
    assert "JSON" in response.json["message"] and "表单" not in response.json["message"]


def test_a_write_without_the_csrf_header_says_what_the_api_needs(app):
    agent = app.test_client()
    login(agent, "li", "agent-pass-1")
    response = agent.post("/api/v1/applications", json=intake(an_item()))
    assert response.status_code == 400 and response.json["error"] == "csrf_failed"
    assert "X-CSRFToken" in response.json["message"] and "表单" not in response.json["message"]
    assert Application.select().count() == 0


def test_an_api_call_without_a_session_answers_401_json(app):
    for method, path in (("get", "/api/v1/applications"), ("post", "/api/v1/applications/X/application.accepted")):
        response = getattr(app.test_client(), method)(path)
        assert response.status_code == 401 and response.json["error"] == "unauthorized"
        assert "登录" in response.json["message"]
    assert app.test_client().get("/work/").status_code == 302  # a person is still sent to the login page


def test_an_api_call_by_an_account_that_must_change_its_password_answers_403_json(app, county_node):
    account_to_change(county_node, "new.agent", "agent")
    client = app.test_client()
    login(client, "new.agent", GIVEN_PASSWORD)
    response = client.get("/api/v1/applications")
    assert response.status_code == 403 and response.json["error"] == "forbidden"
    assert "修改" in response.json["message"]


def test_405_names_the_allowed_methods_and_answers_json_under_the_api(app):
    response = app.test_client().delete("/api/v1/applications")
    assert response.status_code == 405 and response.json["error"] == "method_not_allowed"
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}
    assert "Allow" in app.test_client().put("/login").headers


def test_the_openapi_document_says_how_to_authenticate(app):
    document = app.test_client().get("/api/v1/openapi.json").json
    schemes = document["components"]["securitySchemes"]
    assert schemes["session"] == {"type": "apiKey", "in": "cookie", "name": "session"}
    assert schemes["csrf"]["in"] == "header" and schemes["csrf"]["name"] == "X-CSRFToken"
    intake_op = document["paths"]["/api/v1/applications"]["post"]
    assert intake_op["security"] == [{"session": [], "csrf": []}] and "401" in intake_op["responses"]
    assert document["paths"]["/api/v1/status"]["get"]["security"] == []


# -- the sync endpoints: signed headers and sealed bodies ---------------------------------------------


@pytest.mark.parametrize("header", ["Time", "Protocol"])
def test_a_sync_header_of_non_ascii_digits_is_refused_not_500(client, header):
    body = b"x"
    headers = {
        "X-OneTrip-Station": "s1",
        "X-OneTrip-Installation": "i1",
        "X-OneTrip-Time": "123",
        "X-OneTrip-Nonce": "ab" * 16,
        "X-OneTrip-Digest": digest(body),
        "X-OneTrip-Signature": "ab" * 32,
        "X-OneTrip-Protocol": "2",
    }
    headers[f"X-OneTrip-{header}"] = "¹²³"
    response = client.post("/api/v1/sync/pull", data=body, headers=headers)
    # WSGI reads header bytes as Latin-1, which has ¹²³: str.isdigit() says yes, int() says no
    assert 400 <= response.status_code < 500, response.json
    assert "格式" in response.json["message"] or "协议" in response.json["message"]


def _signed_by_county(county_template, tmp_path, path: str, context: bytes, asked) -> tuple[object, dict, bytes]:
    """The city's app and a request the county signed and sealed to it asking `asked`."""
    import shutil

    from node.config import NodeConfig

    for name in ("city", "county"):
        shutil.copytree(getattr(county_template, name).data_dir, tmp_path / name)
    county = open_node(NodeConfig(tmp_path / "county"))
    city_key = agreement_key(serving_installation(county.identity.parent))
    headers, body = seal_and_sign(
        county.keys.signing,
        city_key,
        orjson.dumps(asked),  # not canonical.encode, which refuses what a careless or hostile peer may send
        path=path,
        context=context,
        station=county.identity.station,
        installation=county.identity.installation,
        time_ms=int(time.time() * 1000),
        nonce=os.urandom(16).hex(),
    )
    city = open_node(NodeConfig(tmp_path / "city"))
    return create_app(node=city).test_client(), headers, body


@pytest.mark.parametrize(
    ("path", "context", "asked"),
    [
        ("/api/v1/sync/pull", PULL_CONTEXT, {"cursor": 2**63}),
        ("/api/v1/sync/pull", PULL_CONTEXT, {"cursor": 0, "status": {"below": [5]}}),
        ("/api/v1/sync/pull", PULL_CONTEXT, {"cursor": 0, "status": {"below": 5}}),
        ("/api/v1/sync/pull", PULL_CONTEXT, {"repair": ["a", "b", 2**63]}),
        ("/api/v1/sync/blobs", BLOB_CONTEXT, {"op": "want", "digests": 5}),
        ("/api/v1/sync/blobs", BLOB_CONTEXT, {"op": "put", "digest": "ab" * 32, "offset": 0, "total": 3, "data": 5}),
        ("/api/v1/sync/blobs", BLOB_CONTEXT, {"op": "get", "digest": "-" + "a" * 63, "offset": 0}),
        ("/api/v1/sync/blobs", BLOB_CONTEXT, ["op", "want"]),
    ],
)
def test_a_signed_sync_request_of_the_wrong_shape_is_refused_not_500(county_template, tmp_path, path, context, asked):
    try:
        client, headers, body = _signed_by_county(county_template, tmp_path, path, context, asked)
        response = client.post(path, data=body, headers=headers)
    finally:
        db.close()
    assert response.status_code < 500, response.get_data()[:300]  # refused, or the garbage left aside


def test_a_page_number_beyond_64_bits_is_not_a_500(app):
    admin = app.test_client()
    login(admin, "wang", "county-admin-1")
    assert admin.get(f"/admin/?page={2**64}").status_code == 200


def test_nul_in_a_query_a_form_or_a_body_is_refused_before_it_reaches_the_database(app):
    """PostgreSQL refuses NUL in text (a 500 on a hub): every edge refuses it alike, on SQLite too."""
    agent = _as(app, "li", "agent-pass-1")
    assert agent.get("/api/v1/applications?q=%00").status_code == 400
    assert app.test_client().post("/login", data={"username": "li\x00"}).status_code == 400
    body = intake(an_item())
    body["applicant"]["name"] = "张\x00"
    response = agent.post("/api/v1/applications", json=body)
    assert response.status_code == 400 and "applicant.name" in response.json["message"]
