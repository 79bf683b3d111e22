"""电子证照: the county decides a village's application, uploads the licence as a PDF and seals it with its own
seal; the sealed file verifies anywhere, the resident's query lists it, and nobody else can make one."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from harness.seals import PIN, county_decides, licence_pdf
from node.cases.intake import IntakeRefused, attach_scan
from node.cases.tracking import QueryGuard, look_up
from node.seals.records import SealRefused
from node.seals.sealing import seal_licence
from node.seals.verification import verify_pdf
from storage.models import Application, Attachment, Operator, SealUse
from sync.projection import RuleViolation


@pytest.fixture
def decided(seal_tree):
    seal_id, blob = county_decides(seal_tree)
    return seal_tree.open("county"), seal_id, seal_tree.number, blob


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
            licence_pdf(),
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
