"""The Flask app on a real node: health, status API, the station page in Chinese, errors."""

from __future__ import annotations

import datetime as dt

import pytest

from harness.web import login
from node.releases.client import running_version
from provisioning.operators import create_operator
from storage.models import SyncLink, upsert
from web import create_app


@pytest.fixture
def set_up(node):
    """The village as county IT sets one up on the command line: initialised, with an account (no setup page)."""
    station = node.identity.station
    create_operator(node.events, station, username="cun", name="村管理员", role="admin", password="admin-pass-1")


def test_healthz_answers_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok", "version": running_version()}


def test_status_names_the_station_and_counts_its_events(client, node):
    status = client.get("/api/v1/status").json
    assert status["station"] == node.identity.station
    assert status["installation"] == node.identity.installation
    assert (status["level"], status["name"], status["region"]) == ("village", "青山村便民服务代办点", "511302001001")
    assert status["event_count"] == 2
    assert status["last_event_at"].endswith("+00:00")
    node.events.append(
        "station.created",  # the station declaring itself again, under a new name
        f"station:{node.identity.station}",
        {"code": node.identity.station, "name": "新站", "level": "village", "region": "511302001001"},
        stream=node.identity.station,
    )
    assert client.get("/api/v1/status").json["event_count"] == 3


def test_the_station_page_is_in_chinese_and_needs_nothing_from_the_internet(client, node, set_up):
    page = client.get("/").get_data(as_text=True)
    assert "青山村便民服务代办点" in page and node.identity.station in page  # its name and its code
    assert "http://" not in page and "https://" not in page
    assert client.get("/static/style.css").status_code == 200


def test_api_errors_are_json_with_a_stable_code(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json["error"] == "not_found" and response.json["message"]


def test_page_errors_are_a_page_in_chinese_without_a_stack_trace(client, set_up):
    response = client.get("/nothing-here")
    assert response.status_code == 404
    text = response.get_data(as_text=True)
    assert "找不到这个页面" in text and "Traceback" not in text


def test_the_sync_status_tells_the_last_success_in_beijing_time(county_node):
    upsert(SyncLink, parent=county_node.identity.parent, last_success_at=dt.datetime(2026, 12, 4, 16, 5))
    client = create_app(node=county_node).test_client()
    login(client, "li", "agent-pass-1")
    status = client.get("/sync/status").get_json()
    assert not status["running"] and status["message"] == "同步完成（北京时间 2026-12-05 00:05）"


def test_the_timeline_names_a_step_by_the_real_name_of_an_account_this_node_knows(county_node):
    """A filing's event carries only the login; the page shows the person's name where this node knows the
    account, and the login where it does not."""
    import os

    from harness.cases import RESIDENT
    from harness.cases import item as an_item
    from harness.web import login
    from node.cases.intake import file_for_resident
    from web import create_app

    def filed_by(operator: str) -> str:
        return file_for_resident(
            county_node,
            county_node.reference.catalogue(),
            item_code=an_item().code,
            applicant=RESIDENT,
            consent=True,
            operator=operator,
            request_token=os.urandom(16).hex(),
            now=county_node.now(),
        )[0]

    known, unknown = filed_by("li"), filed_by("cun.agent")
    client = create_app(node=county_node).test_client()
    login(client, "zhou", "clerk-pass-1")
    assert "提交（李代办）" in client.get(f"/work/a/{known}").get_data(as_text=True)
    assert "提交（cun.agent）" in client.get(f"/work/a/{unknown}").get_data(as_text=True)
