"""Bad input to provisioning: each refused with a clear message, nothing written, and an audit
entry on the hub."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from harness.clock import FrozenClock
from harness.tree import Tree, open_node, provision_county
from node.config import NodeConfig
from node.fleet import admin as fleet
from node.fleet import joining
from node.runtime import initialise
from provisioning.certs import agreement_key_of, fingerprint, from_pem
from provisioning.codes import normalise
from provisioning.enrolment import make_request, seal_request
from provisioning.errors import BadCode, CertificateRefused, EnrolmentRefused
from storage.database import db
from storage.models import AuditEntry, Certificate, EventRecord, Registration
from sync import canonical


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Tree:
    tree = provision_county(tmp_path_factory.mktemp("tree"))
    yield tree
    db.close()


@pytest.fixture
def tree(template: Tree, tmp_path) -> Tree:
    """A fresh copy of the provisioned city and county for each test."""
    import shutil

    db.close()
    for name in ("city", "county"):
        shutil.copytree(getattr(template, name).data_dir, tmp_path / name)
    yield Tree(NodeConfig(tmp_path / "city"), NodeConfig(tmp_path / "county"))
    db.close()


@pytest.fixture
def village(tmp_path) -> NodeConfig:
    config = NodeConfig(tmp_path / "village")
    initialise(
        config, level="village", name="青山村便民服务代办点", region="511302001001", algorithm="ecdsa-p256-sha256"
    )
    db.close()
    return config


def register_village(tree: Tree, clock=None, region="511302001001"):
    return fleet.register(
        tree.open("county", clock),
        name="青山村便民服务代办点",
        level="village",
        region=region,
        hub_url="http://county.invalid",
    )


def hub_agreement(tree: Tree) -> str:
    return fleet.directory(tree.open("county"))["agreement_certificate"]


def sealed_request(village: NodeConfig, code: str, agreement_pem: str) -> bytes:
    node = open_node(village)
    return seal_request(make_request(node.identity, node.keys, code, None), agreement_key_of(from_pem(agreement_pem)))


def snapshot():
    return (
        Certificate.select().count(),
        EventRecord.select().count(),
        [r.enrolled_installation for r in Registration.select()],
    )


def refused_with(tree: Tree, sealed: bytes, error, words: str, clock=None):
    hub = tree.open("county", clock)
    before, audits = snapshot(), AuditEntry.select().where(AuditEntry.outcome == "refused").count()
    with pytest.raises(error) as refusal:
        fleet.grant(hub, sealed)
    assert words in str(refusal.value)
    assert snapshot() == before, "nothing written"
    assert AuditEntry.select().where(AuditEntry.outcome == "refused").count() == audits + 1
    return refusal.value


def test_an_expired_code_is_refused(tree, village):
    clock = FrozenClock(int(dt.datetime.now(dt.UTC).timestamp() * 1000))
    code = register_village(tree, clock).code
    agreement = hub_agreement(tree)
    clock.advance(73 * 3600 * 1000)
    refused_with(tree, sealed_request(village, code, agreement), BadCode, "已过期", clock)


def test_a_reused_code_is_refused(tree, village, tmp_path):
    code, agreement = register_village(tree).code, hub_agreement(tree)
    sealed = sealed_request(village, code, agreement)
    fleet.grant(tree.open("county"), sealed)
    twin = NodeConfig(tmp_path / "twin")
    db.close()
    initialise(twin, level="village", name="青山村", region="511302001001", algorithm="ecdsa-p256-sha256")
    refused_with(tree, sealed_request(twin, code, agreement), BadCode, "已使用")


def test_a_mistyped_code_is_caught_before_any_request(tree, village):
    code = normalise(register_village(tree).code)
    typo = code[:3] + ("X" if code[3] != "X" else "Y") + code[4:]
    node = open_node(village)
    with pytest.raises(BadCode) as refusal:
        make_request(node.identity, node.keys, typo, None)
    assert "校验位" in str(refusal.value)


def test_a_code_for_another_hub_is_refused(tree, village):
    code = fleet.register(
        tree.open("city"), name="高坪区", level="county", region="511303", hub_url="http://city.invalid"
    ).code
    refused_with(tree, sealed_request(village, code, hub_agreement(tree)), BadCode, "注册码无效")


def test_a_qr_code_whose_fingerprint_is_not_the_hubs_stops_before_the_code_is_sent(tree, village, monkeypatch):
    code = register_village(tree).code
    directory = fleet.directory(tree.open("county"))
    sent = []
    monkeypatch.setattr(joining.client, "fetch_directory", lambda url: directory)
    monkeypatch.setattr(joining.client, "post_request", lambda url, sealed: sent.append(sealed))
    with pytest.raises(EnrolmentRefused) as refusal:
        joining.enrol_online(open_node(village), "http://rogue.invalid", code, "0" * 64)
    assert "冒充" in str(refusal.value) and sent == []


def altered_request(tree: Tree, village: NodeConfig, change) -> bytes:
    """A well-formed request with one field changed by `change(request)`, sealed to the county."""
    code, agreement = register_village(tree).code, hub_agreement(tree)
    node = open_node(village)
    request = canonical.decode(make_request(node.identity, node.keys, code, None))
    change(request)
    return seal_request(canonical.encode(request), agreement_key_of(from_pem(agreement)))


def test_a_certificate_request_whose_key_does_not_match_its_signature_is_refused(tree, village):
    def tamper(request):
        der = bytearray(x509.load_pem_x509_csr(request["signing_csr"].encode()).public_bytes(Encoding.DER))
        der[-5] ^= 0x01  # one byte of the signature: the key no longer matches it
        request["signing_csr"] = x509.load_der_x509_csr(bytes(der)).public_bytes(Encoding.PEM).decode()

    refused_with(tree, altered_request(tree, village, tamper), EnrolmentRefused, "签名与其公钥不符")


def test_an_installation_id_not_derived_from_its_key_is_refused(tree, village):
    sealed = altered_request(tree, village, lambda request: request.update(installation="i-00000000000000000000"))
    refused_with(tree, sealed, EnrolmentRefused, "安装编号与签名密钥不符")


def test_a_station_outside_the_countys_division_cannot_be_registered(tree):
    tree.open("county")
    before = snapshot()
    with pytest.raises(EnrolmentRefused) as refusal:
        register_village(tree, region="511303001001")
    assert "不在本辖区" in str(refusal.value)
    assert snapshot() == before
    assert AuditEntry.select().where((AuditEntry.action == "register") & (AuditEntry.outcome == "refused")).exists()


def test_a_truncated_or_altered_bundle_is_refused_and_nothing_is_written(tree, village):
    code = register_village(tree).code
    bundle = fleet.bundle_for(tree.open("county"), code, "http://county.invalid")
    altered = json.loads(bundle)
    altered["bundle"] = altered["bundle"].replace("青山村", "绿水村", 1)
    for bad, words in ((bundle[: len(bundle) // 2], "损坏"), (json.dumps(altered).encode(), "不符")):
        node = open_node(village)
        before = (EventRecord.select().count(), Certificate.select().count(), node.identity)
        with pytest.raises(EnrolmentRefused) as refusal:
            joining.enrol_from_bundle(node, bad, code)
        assert words in str(refusal.value)
        assert (EventRecord.select().count(), Certificate.select().count(), open_node(village).identity) == before


def test_a_bundle_opened_with_another_code_is_refused(tree, village):
    code = register_village(tree).code
    other = register_village(tree, region="511302001002").code
    bundle = fleet.bundle_for(tree.open("county"), code, "http://county.invalid")
    with pytest.raises(EnrolmentRefused):
        joining.enrol_from_bundle(open_node(village), bundle, other)


def test_an_older_trust_feed_replayed_changes_nothing(tree, village):
    code = register_village(tree).code
    old_bundle = fleet.bundle_for(tree.open("county"), code, "http://county.invalid")
    request = joining.enrol_from_bundle(open_node(village), old_bundle, code)
    joining.install_grant(open_node(village), fleet.grant(tree.open("county"), request))
    node = open_node(village)
    before = [(r.eid, r.status) for r in EventRecord.select().order_by(EventRecord.arrival)]
    from provisioning.bundle import read_bundle
    from provisioning.enrolment import install_trust

    install_trust(node.events, read_bundle(old_bundle, code))
    assert [(r.eid, r.status) for r in EventRecord.select().order_by(EventRecord.arrival)] == before


def test_a_node_whose_clock_is_a_year_behind_is_told_to_fix_it(tree, village):
    code, agreement = register_village(tree).code, hub_agreement(tree)
    sealed = sealed_request(village, code, agreement)
    grant = fleet.grant(tree.open("county"), sealed)
    year_ago = FrozenClock(int((dt.datetime.now(dt.UTC) - dt.timedelta(days=365)).timestamp() * 1000))
    node = open_node(village, year_ago)
    before = (EventRecord.select().count(), node.identity)
    with pytest.raises(EnrolmentRefused) as refusal:
        joining.install_grant(node, grant)
    assert "校正电脑时间" in str(refusal.value)
    assert (EventRecord.select().count(), open_node(village).identity) == before


def test_a_county_certificate_for_another_countys_station_does_not_verify(tree):
    from provisioning.ca import load_authority
    from provisioning.certs import SIGNING, Binding, issue, verify_path
    from provisioning.identity import installation_id
    from provisioning.trust import anchors
    from sync.keys import SigningKey

    tree.open("county")
    authority = load_authority(tree.county.data_dir)
    key = SigningKey.generate().verifying_key.public_key
    outsider = Binding("511303001001-01", installation_id(key), "village", "外县村", "511303001001", None, SIGNING, ())
    now = dt.datetime.now(dt.UTC)
    cert = issue(
        binding=outsider,
        public_key=key,
        issuer_key=authority.key,
        issuer_cert=authority.cert,
        now=now,
        days=30,
    )
    with pytest.raises(CertificateRefused) as refusal:
        verify_path([cert, authority.cert], anchors(), at=now)
    assert "辖区外" in str(refusal.value)


@pytest.mark.parametrize("forged", ["leaf", "authority"])
def test_a_path_with_a_signature_its_issuer_did_not_make_does_not_verify(tree, forged):
    """Each signature on the way to the anchor is checked: the leaf's by its county's CA certificate, the CA's
    by the anchor. A key that merely names the county, or the city, as issuer signs nothing that verifies."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from provisioning.ca import load_authority
    from provisioning.certs import SIGNING, Binding, binding_of, issue, verify_path
    from provisioning.identity import installation_id
    from provisioning.trust import anchors
    from sync.keys import SigningKey

    tree.open("county")
    authority, impostor = load_authority(tree.county.data_dir), ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    key = SigningKey.generate().verifying_key.public_key
    village = Binding("511302001001-09", installation_id(key), "village", "某村", "511302001001", None, SIGNING, ())

    def leaf(issuer_key, issuer_cert):
        return issue(binding=village, public_key=key, issuer_key=issuer_key, issuer_cert=issuer_cert, now=now, days=30)

    assert verify_path([leaf(authority.key, authority.cert), authority.cert], anchors(), at=now) == village
    ca = authority.cert
    if forged == "authority":  # the county's CA certificate again, as if the city had issued it
        county = binding_of(authority.cert)
        ca = issue(
            binding=county,
            public_key=authority.cert.public_key(),
            issuer_key=impostor,
            issuer_cert=anchors()[0],
            now=now,
            days=30,
            path_length=0,
        )
    with pytest.raises(CertificateRefused):
        verify_path([leaf(impostor if forged == "leaf" else authority.key, ca), ca], anchors(), at=now)


def test_a_county_cannot_revoke_its_city_or_anything_outside_its_division(tree):
    city_installation = open_node(tree.city).identity.installation
    county = tree.open("county")
    before = snapshot()
    with pytest.raises(EnrolmentRefused) as refusal:
        fleet.revoke(county, city_installation, "越权")
    assert "无权吊销" in str(refusal.value)
    assert snapshot() == before


def test_a_revocation_by_a_county_outside_its_jurisdiction_is_refused_locally_and_quarantined_elsewhere(tree):
    from provisioning.trust import REVOKED
    from provisioning.trust_events import trust_entity
    from sync.chain import GENESIS, link, sign_head
    from sync.event import make_event
    from sync.projection import RuleViolation

    city_installation = open_node(tree.city).identity.installation
    county = tree.open("county")
    payload = {"installation": city_installation, "last_seq": {}, "reason": "越权"}
    count = EventRecord.select().count()
    with pytest.raises(RuleViolation):
        county.events.append(REVOKED, trust_entity("revocation", city_installation), payload, stream="all")
    assert EventRecord.select().count() == count

    # The same event made by hand with the county's key, as a tampered county PC would: authentic but unauthorised.
    event = make_event(
        origin=county.identity.installation,
        stream="all",
        seq=1,
        hlc=county.events.clock.now(),
        type=REVOKED,
        entity=trust_entity("revocation", city_installation),
        payload=payload,
    )
    head = sign_head(
        county.keys.signing,
        origin=event.origin,
        stream="all",
        seq=1,
        chain=link(GENESIS, event.eid),
        signed_at=1,
        expires_at_ms=2**41,
    )
    city = tree.open("city")
    receipt = city.events.ingest([event.raw], head)
    assert receipt.quarantined == 1
    assert "无权" in EventRecord.get(EventRecord.eid == event.eid).reason
    assert not city.events.trust.is_revoked(city_installation)


def test_a_certificate_claiming_another_installations_id_is_refused(tree):
    from provisioning.authority import AUTHORITY
    from provisioning.ca import load_authority
    from provisioning.certs import SIGNING, Binding, issue, to_pem
    from provisioning.trust import CERTIFIED, TRUST_STREAM
    from provisioning.trust_events import trust_entity
    from sync.keys import SigningKey
    from sync.projection import RuleViolation

    city_installation = open_node(tree.city).identity.installation
    county = tree.open("county")
    authority = load_authority(tree.county.data_dir)
    impostor = Binding(
        "511302001001-09", city_installation, "village", "冒名", "511302001001", None, SIGNING, AUTHORITY["city"]
    )
    cert = issue(
        binding=impostor,
        public_key=SigningKey.generate().verifying_key.public_key,
        issuer_key=authority.key,
        issuer_cert=authority.cert,
        now=county.now(),
        days=30,
    )
    with pytest.raises(RuleViolation) as refusal:
        county.events.append(
            CERTIFIED, trust_entity("cert", "x"), {"certificate": to_pem(cert), "use": SIGNING}, stream=TRUST_STREAM
        )
    assert "不是该安装的签名密钥" in str(refusal.value)
    assert county.events.trust.binding(city_installation).level == "city"


def test_a_rogue_hub_with_the_real_fingerprint_but_its_own_key_gets_no_code(tree, village, monkeypatch):
    from provisioning.certs import AGREEMENT, Binding, issue, to_pem
    from provisioning.identity import installation_id
    from sync.keys import SigningKey, generate_agreement_key

    code = register_village(tree).code
    real = fleet.directory(tree.open("county"))
    # The rogue copies the real authority certificate (and so its fingerprint) but offers its own key,
    # certified by a root of its own.
    rogue_root_key = generate_agreement_key()
    rogue_signing = SigningKey.generate()
    now = dt.datetime.now(dt.UTC)
    root = issue(
        binding=Binding("511302-01", "511302-01", "city", "假根", "511300", None, "ca", ()),
        public_key=rogue_root_key.public_key(),
        issuer_key=rogue_root_key,
        issuer_cert=None,
        now=now,
        days=30,
    )
    owner = installation_id(rogue_signing.verifying_key.public_key)
    agreement = issue(
        binding=Binding("511302-01", owner, "county", "假枢纽", "511302", None, AGREEMENT, ()),
        public_key=generate_agreement_key().public_key(),
        issuer_key=rogue_root_key,
        issuer_cert=root,
        now=now,
        days=30,
    )
    rogue = {**real, "agreement_certificate": to_pem(agreement), "anchors": real["anchors"] + [to_pem(root)]}
    sent = []
    monkeypatch.setattr(joining.client, "fetch_directory", lambda url: rogue)
    monkeypatch.setattr(joining.client, "post_request", lambda url, sealed: sent.append(sealed))
    fp = fingerprint(from_pem(real["authority_certificate"]))
    with pytest.raises(EnrolmentRefused) as refusal:
        joining.enrol_online(open_node(village), "http://rogue.invalid", code, fp)
    assert "冒充" in str(refusal.value) and sent == []
