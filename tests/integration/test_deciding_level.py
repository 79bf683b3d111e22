"""The catalogue's deciding level (决定层级) is enforced: a township may not accept or decide an item its
catalogue gives to the county, neither at its own window nor by a signed event pushed to another node."""

from __future__ import annotations

import pytest

from harness.by_hand import carry, demo_copy_with_village_known, prepare_demo
from harness.cluster import file
from harness.tree import open_node
from harness.web import login, received
from node.cases.intake import transition
from node.catalogue.data import sample_catalogue
from node.cli.demo import PASSWORD
from storage.database import db
from storage.models import Application, EventRecord
from sync.hlc import HybridClock
from sync.log import QUARANTINED, Author, EventLog
from sync.projection import Registry, RuleViolation


def item_decided_at(level: str):
    return next(i for i in sample_catalogue().current() if i.level == level and i.proxy_allowed)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return prepare_demo(tmp_path_factory.mktemp("level") / "demo")


@pytest.fixture
def tree(template, tmp_path):
    yield demo_copy_with_village_known(template, tmp_path / "demo")
    db.close()


def file_at_village(tree, level: str) -> str:
    return file(open_node(tree["village"]), item=item_decided_at(level))


def test_a_township_refuses_to_accept_a_county_item_in_plain_chinese_and_writes_nothing(tree):
    number = file_at_village(tree, "county")
    township = carry(tree["village"], tree["township"])
    before = EventRecord.select().count()
    with pytest.raises(RuleViolation, match="县级"):
        transition(township.events, number, "application.accepted", {"by": "town.clerk"})
    assert EventRecord.select().count() == before
    assert Application.get_by_id(number).state == "submitted"


def test_a_township_clerk_is_told_why_on_the_api_and_not_offered_the_step_on_the_page(tree):
    from web import create_app

    county_item, township_item = file_at_village(tree, "county"), file_at_village(tree, "township")
    township = carry(tree["village"], tree["township"])
    app = create_app(node=township)
    app.config["TESTING"] = True
    client = app.test_client()
    login(client, "town.clerk", PASSWORD)
    page = client.get(f"/work/a/{county_item}").get_data(as_text=True)
    assert "application.accepted" not in page
    assert "application.accepted" in client.get(f"/work/a/{township_item}").get_data(as_text=True)
    token = client.get("/api/v1/csrf").get_json()["token"]
    checked = {"materials": received(sample_catalogue().item(Application.get_by_id(county_item).item_code))}
    answer = client.post(
        f"/api/v1/applications/{county_item}/application.accepted", json=checked, headers={"X-CSRFToken": token}
    )
    assert answer.status_code == 400
    assert "县级" in answer.get_json()["message"]
    assert Application.get_by_id(county_item).state == "submitted"
    check = {"materials": received(sample_catalogue().item(Application.get_by_id(township_item).item_code))}
    accepted = client.post(
        f"/api/v1/applications/{township_item}/application.accepted", json=check, headers={"X-CSRFToken": token}
    )
    assert accepted.status_code == 200 and accepted.get_json()["state"] == "accepted"


def test_a_townships_signed_acceptance_of_a_county_item_is_quarantined_at_the_county(tree):
    number = file_at_village(tree, "county")
    carry(tree["village"], tree["county"])
    village_station = open_node(tree["village"]).identity.station
    township = carry(tree["village"], tree["township"])
    # A township PC whose software was changed: its own key signs the step without the domain's check.
    forger = EventLog(
        Author(township.identity.installation, township.keys.signing),
        township.events.trust,
        Registry(()),
        HybridClock(township.events.clock.clock),
    )
    forged = forger.append(
        "application.accepted", f"application:{number}", {"by": "town.clerk"}, stream=village_station
    )
    carry(tree["township"], tree["county"], stream=village_station)
    stored = EventRecord.get(EventRecord.eid == forged.eid)
    assert stored.status == QUARANTINED and "县级" in stored.reason
    assert Application.get_by_id(number).state == "submitted"


def test_the_county_accepts_a_county_item_and_a_township_a_township_item(tree):
    county_item, township_item = file_at_village(tree, "county"), file_at_village(tree, "township")
    township = carry(tree["village"], tree["township"])
    transition(township.events, township_item, "application.accepted", {"by": "town.clerk"})
    assert Application.get_by_id(township_item).state == "accepted"
    county = carry(tree["village"], tree["county"])
    transition(county.events, county_item, "application.accepted", {"by": "county.clerk"})
    assert Application.get_by_id(county_item).state == "accepted"
