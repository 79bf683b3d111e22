"""Who sees which applications: one rule for the detail page, the queue, the JSON list, search and the
counts. An agent sees their own station's residents only, so a township's agent cannot use the queue's
search as a yes/no oracle on the villages below it; a clerk sees the whole area."""

from __future__ import annotations

import datetime as dt

import pytest

from harness.by_hand import carry, demo_copy_with_village_known, prepare_demo
from harness.cluster import file
from harness.tree import open_node
from harness.web import login
from node.cases.intake import Applicant, transition
from node.cases.marks import mark_deadlines
from node.catalogue.data import sample_catalogue
from node.cli.demo import PASSWORD
from provisioning.operators import create_operator
from storage.database import db
from web import create_app

VILLAGER = Applicant("张秀英", "11010519491231002X", "138 0013 8000", "四川省南充市顺庆区搬罾街道青山村3组12号")
TOWNSFOLK = Applicant("李建国", "110105198001010032", "138 0013 8001", "四川省南充市顺庆区搬罾街道正街8号")


def item():
    return next(i for i in sample_catalogue().current() if i.level == "township" and i.proxy_allowed)


def file_by(node, applicant: Applicant, operator: str) -> str:
    return file(node, item=item(), applicant=applicant, operator=operator)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return prepare_demo(tmp_path_factory.mktemp("seen") / "demo")


@pytest.fixture
def township(template, tmp_path):
    """The township holding a village's application, accepted and overdue, and one its own agent filed."""
    tree = demo_copy_with_village_known(template, tmp_path / "demo")
    village = open_node(tree["village"])
    villagers = file_by(village, VILLAGER, "cun.agent")
    node = carry(tree["village"], tree["township"])
    transition(node.events, villagers, "application.accepted", {"by": "town.clerk"})
    create_operator(
        node.events, node.identity.station, username="town.agent", name="镇代办", role="agent", password=PASSWORD
    )
    own = file_by(node, TOWNSFOLK, "town.agent")
    mark_deadlines(dt.date.today() + dt.timedelta(days=90), node.reference.holidays())
    yield node, villagers, own
    db.close()


def client_of(node, username: str):
    app = create_app(node=node)
    app.config["TESTING"] = True
    client = app.test_client()
    login(client, username, PASSWORD)
    return client


def listed(client, query: str = "") -> list[str]:
    answer = client.get("/api/v1/applications", query_string={"q": query}).get_json()
    assert answer["total"] == len(answer["items"])
    return [item["number"] for item in answer["items"]]


def test_a_township_agent_lists_and_finds_only_their_own_stations_residents(township):
    node, villagers, own = township
    agent = client_of(node, "town.agent")
    assert listed(agent) == [own]
    for query in (VILLAGER.name, VILLAGER.id_number, villagers):
        assert listed(agent, query) == []
        assert f"/work/a/{villagers}" not in agent.get("/work/", query_string={"q": query}).get_data(as_text=True)
    assert listed(agent, TOWNSFOLK.id_number) == [own] and listed(agent, TOWNSFOLK.name) == [own]
    assert "已超期 0" in agent.get("/work/").get_data(as_text=True)
    assert agent.get(f"/work/a/{villagers}").status_code == 403
    assert agent.get(f"/api/v1/applications/{villagers}").status_code == 403


def test_a_township_clerk_lists_and_finds_the_whole_area(township):
    node, villagers, own = township
    clerk = client_of(node, "town.clerk")
    everything = listed(clerk)
    assert {villagers, own} <= set(everything) and len(everything) == 4  # with the demo's two
    assert villagers in listed(clerk, VILLAGER.name) and villagers in listed(clerk, VILLAGER.id_number)
    page = clerk.get("/work/", query_string={"q": VILLAGER.id_number}).get_data(as_text=True)
    assert f"/work/a/{villagers}" in page and "已超期 1" in clerk.get("/work/").get_data(as_text=True)
    assert clerk.get(f"/work/a/{villagers}").status_code == 200
    assert clerk.get("/work/a/511399-01-20260101-X00001").status_code == 404
