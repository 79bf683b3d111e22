"""A county with a village enrolled under it that holds a seal, made once per run; tests get copies."""

from __future__ import annotations

import io
import shutil
from dataclasses import dataclass
from pathlib import Path

from reportlab.pdfgen.canvas import Canvas

from harness.tree import open_node
from node.cases.intake import Applicant, attach_scan, file_application, new_request_token, transition
from node.cli.demo import enrol_by_bundle
from node.config import NodeConfig
from node.fleet import admin as fleet
from node.runtime import Node, initialise
from node.seals import lifecycle as seals
from provisioning.operators import create_operator
from provisioning.recipients import issuer_recipients
from storage.database import db

PIN = "135790"
CREDIT_CODE = "91511302MA6200010G"
SEAL_ID = "511302-S0001"


@dataclass(frozen=True)
class SealTree:
    city: NodeConfig
    county: NodeConfig
    village: NodeConfig
    number: str  # an application filed at the village

    def open(self, which: str) -> Node:
        return open_node(getattr(self, which))

    def copy(self, base: Path) -> SealTree:
        for name in ("city", "county", "village"):
            shutil.copytree(getattr(self, name).data_dir, base / name)
        return SealTree(
            NodeConfig(base / "city"), NodeConfig(base / "county"), NodeConfig(base / "village"), self.number
        )


def issue_seal(issuer: NodeConfig, holder: NodeConfig, station: str, name: str, owner: str) -> tuple[Node, str]:
    """A seal ordered and granted by the hub above `station`, asked for and installed by its holder with PIN;
    one database bound at a time. Returns the holder, open, and the seal's id."""
    seal_id = seals.order_seal(
        open_node(issuer),
        station=station,
        kind="business",
        name=name,
        owner=owner,
        credit_code=CREDIT_CODE,
        valid_days=365,
        actor="wang",
    )
    request = seals.request_seal(open_node(holder), seal_id, PIN)
    grant = seals.grant_seal(open_node(issuer), request)
    node = open_node(holder)
    seals.install_seal(node, grant)
    return node, seal_id


def provision_seal(city: NodeConfig, county: NodeConfig, base: Path) -> SealTree:
    village = NodeConfig(base / "village")
    initialise(
        village, level="village", name="青山村便民服务代办点", region="511302001001", algorithm="ecdsa-p256-sha256"
    )
    done = fleet.register(
        open_node(county),
        name="青山村便民服务代办点",
        level="village",
        region="511302001001",
        hub_url="http://county.invalid",
    )
    enrol_by_bundle(county, village, done.code, "http://county.invalid")
    holder, _ = issue_seal(county, village, done.station, "业务专用章", "青山村便民服务代办点")
    create_operator(
        holder.events, holder.identity.station, username="li", name="李代办", role="agent", password="agent-pass-1"
    )
    create_operator(
        holder.events, holder.identity.station, username="cun", name="村管理员", role="admin", password="admin-pass-1"
    )
    catalogue = holder.reference.catalogue()
    item = next(i for i in catalogue.current() if i.proxy_allowed and i.promised_limit.days > 0)
    number = file_application(
        holder.events,
        holder.identity,
        holder.keys,
        catalogue,
        issuer_recipients(holder.identity),
        item_code=item.code,
        applicant=Applicant("张秀英", "11010519491231002X", "13800138000", "青山村3组"),
        consent=True,
        operator="li",
        request_token=new_request_token(),
        now=holder.now(),
    )
    db.close()
    return SealTree(city, county, village, number)


def carry(tree: SealTree, source: str, target: str, stream: str) -> Node:
    """What a sync round carries: `source`'s own events in `stream`, ingested by `target` with their head.
    One database is bound at a time: the source is read before the target is opened; the target is returned."""
    node = tree.open(source)
    node.events.sign_heads()
    origin = node.identity.installation
    head = node.events.latest_head(origin, stream)
    batch = node.events.events_of(origin, stream, 0, head.seq)
    node = tree.open(target)
    node.events.ingest(batch, head)
    return node


def licence_pdf() -> bytes:
    """A one-page licence as a department's own system would export it."""
    out = io.BytesIO()
    canvas = Canvas(out, invariant=True)
    canvas.drawString(72, 760, "Business licence No. 511302-0001")
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def county_decides(tree: SealTree) -> tuple[str, str]:
    """The village's application at the county, accepted and approved there by clerk 周科员 (`zhou`,
    clerk-pass-1), its licence uploaded as a result file; the county holds a seal of its own, ordered and
    granted by the city above it. Returns the seal's id and the result file's blob."""
    station = carry(tree, "village", "county", tree.open("village").identity.station).identity.station
    county, seal_id = issue_seal(tree.city, tree.county, station, "行政审批专用章", "顺庆区政务服务中心")
    create_operator(
        county.events, county.identity.station, username="zhou", name="周科员", role="clerk", password="clerk-pass-1"
    )
    transition(county.events, tree.number, "application.accepted", {"by": "zhou", "by_name": "周科员"})
    transition(county.events, tree.number, "application.decided", {"by": "zhou", "approved": True})
    blob = attach_scan(
        county.events, county.identity, county.keys, county.blobs, tree.number, "result:营业执照", licence_pdf(), "zhou"
    )
    db.close()
    return seal_id, blob
