"""即办 and 秒办 on real nodes: an ineligible application is refused before filing with the rule's reason; an
eligible 秒办 one is approved by the rule at filing; a village the county authorised decides a 即办 item on the
spot offline, and the county applies it; a village not authorised for an item cannot, whoever forges it; the
deciding window completes a 即办 item in one step and prints its 办结通知书 at once."""

from __future__ import annotations

import datetime as dt
import io
import os

import pytest
from pypdf import PdfReader

from harness.seals import carry
from harness.web import login, token
from node.cases.intake import Applicant, IntakeRefused, file_for_resident
from node.cases.queries import applied_events
from node.catalogue.data import sample_catalogue
from node.rules.identifiers import id_check_character
from node.rules.workflow import ON_AUTHORITY
from storage.models import Application, EventRecord
from sync.projection import RuleViolation
from web import create_app

ALLOWANCE = "11511302MB10040469-0004"  # 八十周岁以上老年人高龄津贴申领: 秒办
BIRTH_PLAN = "11511302MB1007079B-0003"  # 生育登记: 即办, delegated to the village 511302001001-01
SELF_EMPLOYED = "11511302MB100808XH-0001"  # 个体工商户设立登记: 即办, decided at the county


def resident(born: dt.date, region: str = "511302") -> Applicant:
    body = f"{region}{born:%Y%m%d}001"
    return Applicant("王大爷", body + id_check_character(body), "13800138000", "青山村3组")


def file(node, item_code: str, applicant: Applicant) -> str:
    return file_for_resident(
        node,
        sample_catalogue(),
        item_code=item_code,
        applicant=applicant,
        consent=True,
        operator="li",
        request_token=os.urandom(16).hex(),
        now=node.now(),
    )[0]


def test_an_allowance_for_the_over_80s_is_refused_at_71_with_the_reason_and_approved_by_rule_at_85(county_node):
    with pytest.raises(IntakeRefused) as refused:
        file(county_node, ALLOWANCE, resident(dt.date(1955, 6, 1)))
    assert any("未满 80 周岁" in p for p in refused.value.problems) and Application.select().count() == 0

    number = file(county_node, ALLOWANCE, resident(dt.date(1941, 6, 1)))
    row = Application.get_by_id(number)
    assert row.state == "approved" and row.handling_days == 0 and row.decided_on == row.accepted_on
    [decision] = [e for e in applied_events(number) if e.type == ON_AUTHORITY]
    item = sample_catalogue().item(ALLOWANCE)
    assert decision.payload["basis"] == "rule" and decision.payload["rule"] == f"{item.code}@{item.version}"

    with pytest.raises(IntakeRefused) as again:  # the same old man, the same month: not twice
        file(county_node, ALLOWANCE, resident(dt.date(1941, 6, 1)))
    assert any("12 个月内已申请" in p for p in again.value.problems)


def test_an_authorised_village_decides_on_the_spot_offline_and_the_county_applies_it(seal_tree):
    village = seal_tree.open("village")
    assert village.identity.station == "511302001001-01"
    number = file(village, BIRTH_PLAN, resident(dt.date(1995, 3, 1)))
    other = file(village, SELF_EMPLOYED, resident(dt.date(1990, 3, 1)))  # 即办 too, but not delegated here
    client = create_app(node=village).test_client()
    login(client, "li", "agent-pass-1")
    page = client.get(f"/work/a/{number}").get_data(as_text=True)
    assert "当场办结并打印办结通知书" in page and "经县级授权" in page
    assert "当场办结" not in client.get(f"/work/a/{other}").get_data(as_text=True)
    done = client.post(f"/work/a/{number}/on-the-spot", data={"csrf_token": token(client, f"/work/a/{number}")})
    assert done.status_code == 302 and done.location.endswith(f"/work/a/{number}/print/decision.pdf")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(client.get(done.location).data)).pages)
    assert "办结通知书" in text and "予以确认" in text and "李代办" in text  # the item's wording, who decided
    assert Application.get_by_id(number).state == "approved"
    refused = client.post(f"/work/a/{other}/on-the-spot", data={"csrf_token": token(client, f"/work/a/{other}")})
    assert refused.status_code == 403 and Application.get_by_id(other).state == "submitted"

    carry(seal_tree, "village", "county", "511302001001-01")  # the link comes back: now the county holds it
    assert Application.get_by_id(number).state == "approved"
    assert not EventRecord.select().where(EventRecord.status != "applied").exists()  # nothing held back


def test_a_village_cannot_approve_an_item_it_was_not_authorised_for(seal_tree):
    village = seal_tree.open("village")
    number = file(village, SELF_EMPLOYED, resident(dt.date(1990, 3, 1)))
    with pytest.raises(RuleViolation, match="未获授权"):
        village.events.append(
            ON_AUTHORITY,
            f"application:{number}",
            {"basis": "delegation", "by": "li"},
            stream=village.identity.station,
        )
    with pytest.raises(RuleViolation, match="未获授权"):  # nor call it 秒办: the item publishes no rule
        village.events.append(
            ON_AUTHORITY,
            f"application:{number}",
            {"basis": "rule", "rule": f"{SELF_EMPLOYED}@2", "by": "li"},
            stream=village.identity.station,
        )
    assert Application.get_by_id(number).state == "submitted"


def test_the_deciding_window_completes_an_on_the_spot_item_in_one_step(county_node):
    number = file(county_node, SELF_EMPLOYED, resident(dt.date(1990, 3, 1)))
    client = create_app(node=county_node).test_client()
    login(client, "zhou", "clerk-pass-1")
    done = client.post(f"/work/a/{number}/on-the-spot", data={"csrf_token": token(client, f"/work/a/{number}")})
    assert done.status_code == 302 and done.location.endswith("/print/decision.pdf")
    steps = [e.type for e in applied_events(number)]
    assert steps == ["application.filed", "application.accepted", "application.decided"]
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(client.get(done.location).data)).pages)
    assert "办结通知书" in text and "准予" in text and "周科员" in text


def test_a_county_finds_a_rule_approval_not_eligible_under_its_newer_rule_and_a_clerk_settles_it(county_node):
    """A station still on version 1 approves an 85-year-old; the county, which has published version 2 (90
    and over), records a finding for a clerk when the application arrives; the approval stands until then."""
    import dataclasses

    from node.cases.conflicts import open_conflicts, settle
    from node.catalogue.model import Catalogue
    from node.catalogue.published import CATALOGUE, publish
    from node.hub.rechecks import recheck
    from node.rules.eligibility import Condition

    sample = sample_catalogue()
    item = sample.item(ALLOWANCE)
    stricter = dataclasses.replace(
        item,
        version=item.version + 1,
        eligibility=(Condition({">=": [{"var": "age"}, 90]}, "高龄津贴调整为年满 90 周岁发放"),),
        change_note="发放年龄调整",
    )
    items = [i for versions in sample.versions.values() for i in versions] + [stricter]
    bundles = [(b.code, b.name, b.item_codes) for b in sample.bundles.values()]
    publish(county_node.events, county_node.identity, CATALOGUE, Catalogue.build(items, bundles))
    number = file(county_node, ALLOWANCE, resident(dt.date(1941, 6, 1)))  # filed under the sample's version 1
    assert Application.get_by_id(number).state == "approved"
    assert recheck(county_node, county_node.reference.catalogue()) == 1
    assert recheck(county_node, county_node.reference.catalogue()) == 0  # once
    [finding] = open_conflicts("", number)
    assert "年满 90 周岁" in finding.reason and Application.get_by_id(number).state == "approved"  # stands
    settle(county_node.events, number, finding.eid, "已电话告知群众：本次按申请时的条件发放", "zhou")
    assert open_conflicts("", number) == []
    older = file(county_node, ALLOWANCE, resident(dt.date(1931, 6, 1), region="511303"))  # 95: fine by both
    assert recheck(county_node, county_node.reference.catalogue()) == 0 and open_conflicts("", older) == []
