"""Seals end to end on a county and a village under it: issue, seal offline, verify anywhere, alter a
byte, revoke; the signature checked by pyHanko's own validator against the city's root."""

from __future__ import annotations

import io

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from harness.seals import PIN, SEAL_ID
from harness.tree import open_node
from node.config import NodeConfig
from node.runtime import initialise
from node.seals import lifecycle as seals
from node.seals import projection
from node.seals.records import SealRefused
from node.seals.sealing import seal_document
from node.seals.verification import verify_claim, verify_pdf
from provisioning.enrolment import install_trust
from provisioning.granting import trust_material
from provisioning.seal_keys import SealKeyRefused
from provisioning.trust import anchors
from storage.models import EventRecord, Operator, Seal, SealUse


def seal_receipt(tree, pin=PIN, username="li"):
    village = tree.open("village")
    operator = Operator.get(Operator.username == username)
    return village, seal_document(
        village, operator=operator, pin=pin, seal_id=SEAL_ID, number=tree.number, kind="receipt"
    )


def test_a_sealed_receipt_verifies_and_one_byte_changed_after_sealing_does_not(seal_tree):
    village, sealed = seal_receipt(seal_tree)
    assert sealed.pdf.startswith(b"%PDF-") and sealed.claim.to_qr().startswith("onetrip:seal?")
    use = SealUse.get(SealUse.use_id == sealed.use_id)
    assert (use.seal_id, use.digest, use.number, use.operator) == (SEAL_ID, sealed.claim.digest, seal_tree.number, "li")
    event = EventRecord.get(EventRecord.entity == f"seal-use:{sealed.use_id}")
    assert event.type == "seal.used" and event.origin == village.identity.installation

    verdict = verify_pdf(village, sealed.pdf)
    assert verdict.valid, verdict.problems
    assert verdict.seal_id == SEAL_ID and verdict.owner == "青山村便民服务代办点" and verdict.document == "受理回执"
    assert "本节点已收到这次用印的记录" in verdict.notes[-1]

    altered = bytearray(sealed.pdf)
    at = len(altered) // 3
    altered[at] ^= 0x01
    verdict = verify_pdf(village, bytes(altered))
    assert not verdict.valid and "被改动过" in verdict.headline

    assert verify_claim(village, sealed.claim.to_qr()).valid
    forged = sealed.claim.to_qr().replace(seal_tree.number, seal_tree.number[:-1] + "9")
    verdict = verify_claim(village, forged)
    assert not verdict.valid and "不是这枚印章签署的" in verdict.headline


def test_pyhankos_validator_sees_an_intact_signature_chaining_to_the_county_and_the_city_root(seal_tree):
    _, sealed = seal_receipt(seal_tree)
    roots = [asn1_x509.Certificate.load(a.public_bytes(Encoding.DER)) for a in anchors()]
    embedded = PdfFileReader(io.BytesIO(sealed.pdf)).embedded_signatures[0]
    status = validate_pdf_signature(embedded, ValidationContext(trust_roots=roots, allow_fetching=False))
    assert status.intact and status.valid and status.trusted and status.bottom_line
    path = [cert.subject.human_friendly for cert in status.validation_path]
    assert any("顺庆区政务服务中心" in name for name in path) and any("南充市政务服务中心" in name for name in path)
    assert status.signer_reported_dt is not None


def test_a_revoked_seal_is_refused_at_the_holder_and_what_it_sealed_before_still_verifies(seal_tree):
    _, before = seal_receipt(seal_tree)
    county = seal_tree.open("county")
    seals.revoke_seal(county, SEAL_ID, "电脑遗失", actor="wang")
    with pytest.raises(SealRefused, match="已于"):
        seals.revoke_seal(county, SEAL_ID, "again", actor="wang")
    material = trust_material(county.events)
    village = seal_tree.open("village")
    install_trust(village.events, material)  # what trust-refresh or sync brings down
    assert Seal.get(Seal.seal_id == SEAL_ID).revoked_at is not None
    uses = SealUse.select().count()
    with pytest.raises(SealRefused, match="被县级吊销"):
        seal_receipt(seal_tree)
    assert SealUse.select().count() == uses

    verdict = verify_pdf(seal_tree.open("village"), before.pdf)
    assert verdict.valid, verdict.problems
    assert any("吊销之前，盖章时有效" in note and "电脑遗失" in note for note in verdict.notes)
    assert any("无法独立证明" in note for note in verdict.notes)  # the county never countersigned this use


def test_a_use_after_revocation_is_reported_as_such(seal_tree):
    village = seal_tree.open("village")
    county = seal_tree.open("county")
    seals.revoke_seal(county, SEAL_ID, "站点撤并", actor="wang")
    db_material = trust_material(county.events)
    # The holder was offline: it sealed without knowing, and the verifier learns of the revocation later.
    _, late = seal_receipt(seal_tree)
    village = seal_tree.open("village")
    install_trust(village.events, db_material)
    verdict = verify_pdf(seal_tree.open("village"), late.pdf)
    assert not verdict.valid and "吊销之后盖的章" in verdict.headline


def test_a_wrong_pin_or_an_admin_cannot_seal_and_nothing_is_logged(seal_tree):
    seal_tree.open("village")
    with pytest.raises(SealKeyRefused, match="口令不正确"):
        seal_receipt(seal_tree, pin="000000")
    with pytest.raises(SealRefused, match="只有代办员和窗口人员"):
        seal_receipt(seal_tree, username="cun")
    assert SealUse.select().count() == 0


def test_a_document_verified_at_a_node_of_another_chain_is_not_trusted(seal_tree, tmp_path):
    _, sealed = seal_receipt(seal_tree)
    other = NodeConfig(tmp_path / "other-city")
    initialise(other, level="city", name="绵阳市政务服务中心", region="510700", algorithm="ecdsa-p256-sha256")
    verdict = verify_pdf(open_node(other), sealed.pdf)
    assert not verdict.valid and "其他县市的信任链" in verdict.headline
    # The city above the county knows the chain, though not yet the seal's record (that comes with sync).
    verdict = verify_pdf(seal_tree.open("city"), sealed.pdf)
    assert verdict.valid and any("尚未收到这枚印章的登记" in note for note in verdict.notes)


def test_the_county_countersigns_a_use_so_sealed_before_revocation_does_not_rest_on_the_stations_clock(seal_tree):
    village, sealed = seal_receipt(seal_tree)
    village.events.sign_heads()
    origin, stream = village.identity.installation, village.identity.station
    head = village.events.latest_head(origin, stream)
    batch = village.events.events_of(origin, stream, 0, head.seq)
    county = seal_tree.open("county")
    county.events.ingest(batch, head)  # what the village's push brings
    assert projection.countersign(county) == 1 and projection.countersign(county) == 0  # once per use
    use = SealUse.get(SealUse.use_id == sealed.use_id)
    assert use.received_at is not None and use.received_by == county.identity.station
    receipt = EventRecord.get((EventRecord.type == "seal.received") & (EventRecord.stream == stream))
    assert receipt.origin == county.identity.installation  # signed by the county, in the station's stream

    seals.revoke_seal(county, SEAL_ID, "电脑遗失", actor="wang")
    verdict = verify_pdf(seal_tree.open("county"), sealed.pdf)
    assert verdict.valid, verdict.problems
    assert any("签收了这次用印的记录" in note for note in verdict.notes)
    assert not any("无法独立证明" in note for note in verdict.notes)


def test_replacing_a_pc_revokes_its_seals_and_orders_them_again_for_the_new_one(seal_tree):
    from node.fleet import admin as fleet
    from storage.models import SealOrder

    county = seal_tree.open("county")
    old = Seal.get(Seal.seal_id == SEAL_ID)
    issued = fleet.replace(county, old.station, "硬盘损坏", "http://county.invalid")
    assert Seal.get(Seal.seal_id == SEAL_ID).revoked_at is not None
    assert "更换电脑" in Seal.get(Seal.seal_id == SEAL_ID).revoke_reason
    (again,) = issued.seals
    order = SealOrder.get(SealOrder.seal_id == again)
    assert (order.station, order.kind, order.name, order.owner, order.issued) == (
        old.station,
        old.kind,
        old.name,
        old.owner,
        False,
    )


def test_five_wrong_pins_lock_the_seal_for_a_quarter_of_an_hour(seal_tree):
    import datetime as dt

    from provisioning.seal_keys import unlock_seal_key
    from storage.models import SealLock

    village = seal_tree.open("village")
    data_dir, start = village.config.data_dir, dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
    for attempt in range(1, 5):
        with pytest.raises(SealKeyRefused, match=f"再错 {5 - attempt} 次将锁定"):
            unlock_seal_key(data_dir, SEAL_ID, "000000", start)
    with pytest.raises(SealKeyRefused, match="已锁定 15 分钟"):
        unlock_seal_key(data_dir, SEAL_ID, "000000", start)
    with pytest.raises(SealKeyRefused, match="请 14 分钟后再试"):  # even the right PIN, while locked
        unlock_seal_key(data_dir, SEAL_ID, PIN, start + dt.timedelta(seconds=61))
    assert unlock_seal_key(data_dir, SEAL_ID, PIN, start + dt.timedelta(minutes=16)) is not None
    assert SealLock.select().count() == 0


def test_a_terminal_gets_a_sealed_paper_through_the_api_and_a_wrong_pin_is_said_in_json(seal_tree):
    from harness.web import login
    from web import create_app

    village = seal_tree.open("village")
    client = create_app(node=village).test_client()
    login(client, "li", "agent-pass-1")
    csrf = {"X-CSRFToken": client.get("/api/v1/csrf").json["token"]}
    url = f"/api/v1/applications/{seal_tree.number}/documents/receipt/sealed.pdf"
    wrong = client.post(url, json={"seal": SEAL_ID, "pin": "000000"}, headers=csrf)
    assert wrong.status_code == 400 and "口令" in wrong.json["message"]
    sealed = client.post(url, json={"seal": SEAL_ID, "pin": PIN, "size": "A5"}, headers=csrf)
    assert sealed.status_code == 200 and sealed.mimetype == "application/pdf"
    assert verify_pdf(seal_tree.open("village"), sealed.data).valid


def test_the_start_up_rehearsal_makes_a_real_signature_that_reads_back_whole_and_intact():
    """What a node signs at start, so that a person's first seal does not pay for pyHanko's first signature:
    a real PAdES signature over the whole of a real PDF, with a key made for it and forgotten."""
    from node.seals import pades

    signed = pades.rehearse()
    facts = pades.read(signed, [], [])
    assert facts is not None and facts.signer is not None and facts.whole_file
    assert facts.signer.subject.rfc4514_string() == "CN=rehearsal"


def test_a_sealed_receipts_qr_codes_read_back_from_the_printed_page(seal_tree):
    """Both QR codes of a sealed receipt (the seal's claim, the query address) as a resident's phone reads them:
    the page drawn by PDFium at print resolution, decoded by zxing-cpp, each giving back its exact text."""
    import pypdfium2
    import zxingcpp

    _, sealed = seal_receipt(seal_tree)
    page = pypdfium2.PdfDocument(sealed.pdf)[0].render(scale=150 / 72).to_pil()
    read = {code.text for code in zxingcpp.read_barcodes(page) if code.format == zxingcpp.BarcodeFormat.QRCode}
    assert sealed.claim.to_qr() in read
    assert any(text.endswith("/query") or "/query?" in text for text in read - {sealed.claim.to_qr()})
