"""电子证照: the county decides a village's application, uploads the licence as a PDF and seals it with its own
seal; the sealed file verifies anywhere, the resident's query lists it, and nobody else can make one."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from harness.seals import CREDIT_CODE, PIN
from node.cases.intake import IntakeRefused, attach_scan, transition
from node.cases.tracking import QueryGuard, look_up
from node.seals import lifecycle as seals
from node.seals.records import SealRefused
from node.seals.sealing import seal_licence
from node.seals.verification import verify_pdf
from provisioning.operators import create_operator
from storage.models import Application, Attachment, Operator, SealUse
from sync.projection import RuleViolation


def a_licence_pdf() -> bytes:
    """A one-page licence as a department's own system would export it."""
    from reportlab.pdfgen.canvas import Canvas

    out = io.BytesIO()
    canvas = Canvas(out, invariant=True)
    canvas.drawString(72, 760, "Business licence No. 511302-0001")
    canvas.showPage()
    canvas.save()
    return out.getvalue()


@pytest.fixture
def decided(seal_tree):
    """The village's application at the county, accepted and approved there, its licence uploaded; the county
    holds a seal of its own and a clerk."""
    village = seal_tree.open("village")
    village.events.sign_heads()
    origin, stream = village.identity.installation, village.identity.station
    head = village.events.latest_head(origin, stream)
    batch = village.events.events_of(origin, stream, 0, head.seq)
    county = seal_tree.open("county")
    county.events.ingest(batch, head)  # what the village's push brings
    city = seal_tree.open("city")  # a county's own seal is ordered and granted by the city above it
    seal_id = seals.order_seal(
        city,
        station=county.identity.station,
        kind="business",
        name="行政审批专用章",
        owner=county.identity.name,
        credit_code=CREDIT_CODE,
        valid_days=365,
        actor="wang",
    )
    request = seals.request_seal(seal_tree.open("county"), seal_id, PIN)
    grant = seals.grant_seal(seal_tree.open("city"), request)
    county = seal_tree.open("county")
    seals.install_seal(county, grant)
    create_operator(
        county.events, county.identity.station, username="zhou", name="周科员", role="clerk", password="clerk-pass-1"
    )
    number = seal_tree.number
    transition(county.events, number, "application.accepted", {"by": "zhou", "by_name": "周科员"})
    transition(county.events, number, "application.decided", {"by": "zhou", "approved": True})
    blob = attach_scan(
        county.events, county.identity, county.keys, county.blobs, number, "result:营业执照", a_licence_pdf(), "zhou"
    )
    return county, seal_id, number, blob


def test_a_sealed_licence_verifies_carries_the_seal_and_qr_and_is_listed_in_the_query(decided):
    county, seal_id, number, blob = decided
    clerk = Operator.get(Operator.username == "zhou")
    sealed = seal_licence(county, operator=clerk, pin=PIN, seal_id=seal_id, number=number, blob=blob)

    verdict = verify_pdf(county, sealed.pdf)
    assert verdict.valid, verdict.problems
    assert verdict.document == "电子证照" and verdict.owner == county.identity.name and verdict.number == number
    pages = PdfReader(io.BytesIO(sealed.pdf)).pages
    text = pages[-1].extract_text()
    assert "Business licence No. 511302-0001" in text and "扫码核验电子证照" in text  # the original, and our stamp
    use = SealUse.get(SealUse.use_id == sealed.use_id)
    assert use.document == "licence" and use.number == number

    row = Application.get_by_id(number)
    found = look_up(
        QueryGuard(), county.reference.catalogue(), code_or_number=row.query_code, id_tail="002X", client="t"
    )
    assert found.licences == ("营业执照",) and found.results == ("营业执照",)
    assert any("出具电子证照：营业执照" in line.what for line in found.timeline)

    again = pytest.raises(
        SealRefused, seal_licence, county, operator=clerk, pin=PIN, seal_id=seal_id, number=number, blob=blob
    )
    assert "已经盖章" in str(again.value)


def test_a_wrong_pin_seals_nothing_and_logs_nothing(decided):
    county, seal_id, number, blob = decided
    clerk = Operator.get(Operator.username == "zhou")
    uses = SealUse.select().count()
    with pytest.raises(Exception, match="口令"):
        seal_licence(county, operator=clerk, pin="000000", seal_id=seal_id, number=number, blob=blob)
    assert SealUse.select().count() == uses
    assert not Attachment.select().where(Attachment.material == "licence:营业执照").exists()


def test_a_licence_cannot_be_uploaded_as_a_file_or_claimed_by_a_village(decided, seal_tree):
    county, _, number, _ = decided
    with pytest.raises(IntakeRefused, match="不能直接上传"):
        attach_scan(
            county.events,
            county.identity,
            county.keys,
            county.blobs,
            number,
            "licence:营业执照",
            a_licence_pdf(),
            "zhou",
        )
    # A village's key signing a licence attachment in its own stream: the projection, the same at every node,
    # refuses it (here at the village itself, before anything is written).
    village = seal_tree.open("village")
    with pytest.raises(RuleViolation, match="村级代办点不能生成"):
        village.events.append(
            "material.attached",
            f"application:{number}",
            {
                "number": number,
                "material": "licence:营业执照",
                "blob": "0" * 64,
                "content_type": "application/pdf",
                "size": 9,
                "by": "li",
            },
            stream=village.identity.station,
        )
    assert not Attachment.select().where(Attachment.material == "licence:营业执照").exists()


def test_only_an_approval_decided_here_is_sealed_as_a_licence(seal_tree):
    village = seal_tree.open("village")
    agent = Operator.get(Operator.username == "li")
    with pytest.raises(SealRefused, match="窗口人员"):
        seal_licence(village, operator=agent, pin=PIN, seal_id="x", number=seal_tree.number, blob="0" * 64)
