"""跨区域通办 over real servers: the demo's second county (高坪区) marks items 通办, the city lists it, the demo
village (顺庆区) files it for a resident, the case travels up to the city and down to 高坪区's hub alone, whose
clerk reads the resident's data, accepts and decides; the decision comes back to the village. Neither county
receives anything else of the other, the filing county cannot read or decide the case, both count it."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from app import main
from harness.cluster import RESIDENT
from harness.tree import open_node
from node.cases.events import case_stream
from node.cases.intake import attach_scan, file_for_resident, read_applicant, read_scan, transition
from node.catalogue.data import second_county_catalogue
from node.config import NodeConfig
from node.hub import dashboard
from node.hub.filters import Filters
from storage.database import db
from storage.models import Application, EventRecord
from sync.errors import SyncError
from sync.log import NotAuthorized

HANDLER = "511303"  # 高坪区, the demo's second county


def handled_item():
    """高坪区's 社会保障卡申领, which its catalogue marks 跨区域通办."""
    return second_county_catalogue().item("11511303MB20020247-0004")


def sync(config: NodeConfig) -> int:
    code = main(["sync", "--data", str(config.data_dir)])
    db.close()
    return code


def down_the_line(cluster) -> None:
    for level in ("county", "township", "village"):
        assert cluster.sync(level) == 0, level


def summary(node) -> dict:
    board = dashboard.build(
        dashboard.area_prefix(node.identity.region),
        Filters(),
        [],
        now=dt.datetime.now(dt.UTC),
        own_station=node.identity.station,
        catalogues=node.reference.catalogues(),
    )
    return dict(board.tables["summary"].rows)


@pytest.mark.e2e
def test_a_village_files_for_another_county_which_alone_reads_and_decides_it(cluster, capsys):
    gaoping = cluster.configs["gaoping"]
    assert sync(gaoping) == 0  # its catalogue up to the city
    city = ["publish", "--data", str(cluster.configs["city"].data_dir), "--cross-region"]
    assert main(city) == 0 and "跨区域通办事项清单第 1 版（3 个事项）" in capsys.readouterr().out
    assert main(city) == 2 and "无需重新发布" in capsys.readouterr().err  # nothing changed: nothing published
    db.close()
    down_the_line(cluster)

    village = cluster.open("village")
    item = village.reference.catalogue().item(handled_item().code)
    assert item.handler == HANDLER and item.cross_region
    (number,) = file_for_resident(
        village,
        village.reference.catalogue(),
        item_code=item.code,
        applicant=RESIDENT,
        consent=True,
        operator="cun.agent",
        request_token=os.urandom(16).hex(),
        now=village.now(),
    )
    photo = b"\xff\xd8\xff\xe0" + os.urandom(20_000)  # the material's photo travels with the case
    material = item.materials[0].key
    digest = attach_scan(
        village.events, village.identity, village.keys, village.blobs, number, material, photo, "cun.agent"
    )
    village.events.sign_heads()
    row = Application.get_by_id(number)
    stream = case_stream(row)
    assert row.handler == HANDLER and stream == f"{village.identity.station}-TB{HANDLER}"
    db.close()
    for level in ("village", "township", "county"):
        assert cluster.sync(level) == 0, level  # up the filing county's line to the city
    assert sync(gaoping) == 0  # down to the handling county

    node = open_node(gaoping)
    assert read_applicant(number, node.identity, node.keys).name == RESIDENT.name  # sealed to 高坪区
    assert read_scan(node.identity, node.keys, node.blobs, number, digest)[1] == photo
    transition(node.events, number, "application.accepted", {"by": "gp.clerk"})
    transition(node.events, number, "application.decided", {"by": "gp.clerk", "approved": True})
    node.events.sign_heads()
    crossed = EventRecord.select().where(EventRecord.stream.startswith("511302") & (EventRecord.stream != stream))
    assert not crossed.exists()  # nothing else of 顺庆区's stations reached 高坪区
    assert [r.number for r in Application.select()] == [number]
    assert summary(node)["通办办理件数（外地收件、本地办理）"] == 1
    gaoping_installation = node.identity.installation
    db.close()
    assert sync(gaoping) == 0
    down_the_line(cluster)

    village = cluster.open("village")
    assert Application.get_by_id(number).state == "approved" and Application.get_by_id(number).due is not None
    db.close()
    county = cluster.open("county")
    assert Application.get_by_id(number).state == "approved"
    with pytest.raises(SyncError):  # the filing county holds the case, not the resident's data
        read_applicant(number, county.identity, county.keys)
    with pytest.raises(NotAuthorized):  # nor may it take a step on it
        transition(county.events, number, "application.delivered", {"by": "county.clerk"})
    from_gaoping = EventRecord.select().where(EventRecord.origin == gaoping_installation)
    assert {e.stream for e in from_gaoping} <= {stream}  # of 高坪区, only what it wrote on this case
    assert summary(county)["通办收件件数（本地收件、外地办理）"] == 1
    db.close()
