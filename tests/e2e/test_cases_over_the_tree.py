"""Cases over the demo tree's real servers: 一件事 filed as one case (one number, one receipt listing its items,
each shared material asked once), decided by its items' departments at the township and the county, the query
showing each item; 即办 decided by an authorised village offline and applied above it; the city answering
the query for a case whose resident's data it cannot read."""

from __future__ import annotations

import io
import os

import pytest
from pypdf import PdfReader

from harness.cluster import RESIDENT
from node.cases.intake import file_for_resident, transition
from node.cases.tracking import QueryGuard, look_up
from node.catalogue.data import sample_catalogue
from node.printing.dossier import paper_for
from node.printing.render import render
from storage.database import db
from storage.models import Application

BIRTH = "511302-YJS-001"  # 出生一件事: five items, decided at the township and at the county


def filed_at(village, **what) -> list[str]:
    """What the village's agent files for our resident: an item (`item_code=`) or a 一件事 (`bundle_code=`)."""
    return file_for_resident(
        village,
        sample_catalogue(),
        applicant=RESIDENT,
        consent=True,
        operator="cun.agent",
        request_token=os.urandom(16).hex(),
        now=village.now(),
        **what,
    )


def text_of(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).replace("\n", "")


def decide(node, numbers: list[str], level: str, clerk: str) -> None:
    catalogue = sample_catalogue()
    for number in numbers:
        row = Application.get_by_id(number)
        if catalogue.item(row.item_code, row.item_version).level == level:
            transition(node.events, number, "application.accepted", {"by": clerk})
            transition(node.events, number, "application.decided", {"by": clerk, "approved": True})


def look(case_code: str):
    return look_up(
        QueryGuard(), sample_catalogue(), code_or_number=case_code, id_tail=RESIDENT.id_number[-4:], client="t"
    )


def test_a_bundle_is_one_case_decided_by_its_items_departments_at_two_levels(cluster):
    village = cluster.open("village")
    numbers = filed_at(village, bundle_code=BIRTH)
    case = numbers[0]
    assert len(numbers) == 5 and {Application.get_by_id(n).case_number for n in numbers} == {case}
    bundle = sample_catalogue().bundles[BIRTH]
    receipt = text_of(render("receipt", paper_for(village, numbers[3], sample_catalogue(), "receipt")))
    assert f"办件编号{case}" in receipt.replace(" ", "") and "本件包含的事项" in receipt
    assert all(sample_catalogue().item(code).name in receipt for code in bundle.item_codes)
    notice = text_of(render("notice", paper_for(village, numbers[1], sample_catalogue(), "notice")))
    shared = [e.material.name for e in bundle.to_ask() if len(e.item_codes) > 1]
    assert shared and all(notice.count(name) == 1 for name in shared)  # asked once for the whole case
    code = Application.get_by_id(case).query_code
    running = look(code)
    assert running.number == case and len(running.parts) == 5 and "已办结 0 个" in running.state
    db.close()

    assert cluster.sync("village") == 0 and cluster.sync("township") == 0  # up to the township and the county
    decide(cluster.open("township"), numbers, "township", "town.clerk")
    db.close()
    decide(cluster.open("county"), numbers, "county", "county.clerk")
    db.close()
    assert cluster.sync("township") == 0 and cluster.sync("village") == 0  # the decisions come down

    cluster.open("village")
    done = look(code)
    assert done.state == "已全部办结" and all(part.state.startswith("已办结") for part in done.parts)
    assert {part.number for part in done.parts} == set(numbers)
    assert done.due == max(Application.get_by_id(n).due for n in numbers)
    db.close()


def test_an_authorised_village_decides_on_the_spot_offline_and_its_parents_apply_it(cluster):
    """即办 by delegation, over real servers: the village (never served, as on a real village PC) finishes
    生育登记 on the spot through its own pages, then syncs; the township and the county apply the approval
    on the catalogue's authority, nothing held back."""
    from harness.web import login, token
    from storage.models import EventRecord
    from web import create_app

    village = cluster.open("village")
    assert village.identity.station == "511302001001-01"  # the station the sample delegates 生育登记 to
    (number,) = filed_at(village, item_code="11511302MB1007079B-0003")
    client = create_app(node=village).test_client()
    login(client, "cun.agent", "onetrip-demo")
    done = client.post(f"/work/a/{number}/on-the-spot", data={"csrf_token": token(client, f"/work/a/{number}")})
    assert done.status_code == 302 and Application.get_by_id(number).state == "approved"
    db.close()
    assert cluster.sync("village") == 0 and cluster.sync("township") == 0
    for level in ("township", "county"):
        cluster.open(level)
        assert Application.get_by_id(number).state == "approved", level
        assert not EventRecord.select().where(EventRecord.status != "applied").exists(), level
        db.close()


def test_the_city_answers_the_query_for_a_village_case_it_cannot_read(cluster):
    """办件查询 at the city, over real servers: a village's case reaches the city through its township and
    county; the city holds no key to the resident's data, yet checks the ID tail and tells the state."""
    from node.cases.intake import read_applicant
    from node.cases.tracking import NoMatch
    from sync.errors import SyncError

    village = cluster.open("village")
    (number,) = filed_at(village, item_code="11511302MB10010137-0003")
    code = Application.get_by_id(number).query_code
    db.close()
    for level in ("village", "township", "county"):
        assert cluster.sync(level) == 0
    city = cluster.open("city")
    found = look(code)
    assert found.number == number and found.masked_name.startswith("张") and "秀英" not in found.masked_name
    assert "等待受理" in found.state
    with pytest.raises(SyncError):
        read_applicant(number, city.identity, city.keys)  # the city reads none of it
    with pytest.raises(NoMatch):
        look_up(QueryGuard(), sample_catalogue(), code_or_number=code, id_tail="0000", client="t")
    db.close()
