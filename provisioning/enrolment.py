"""Enrolment, the installation's side: it proves its keys with certificate requests sealed to the hub's
key-agreement key, opens the grant sealed to its own, and installs the certificates, the trust anchors
and the hub's trust streams; it checks a hub's directory against the fingerprint its QR code carries.
Online or on files carried both ways; the hub's side is `granting`.
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from provisioning.certs import (
    AGREEMENT,
    CA,
    SIGNING,
    agreement_key_of,
    binding_of,
    find_path,
    fingerprint,
    from_pem,
    issued_by,
    to_pem,
)
from provisioning.codes import code_problem, normalise
from provisioning.errors import BadCode, CertificateRefused, EnrolmentRefused
from provisioning.identity import Identity, Keys
from provisioning.trust import anchors
from provisioning.trust_events import adopt_certificate
from storage.models import Certificate, TrustAnchor, upsert
from sync import canonical, cipher
from sync.chain import head_from_wire
from sync.errors import CipherError, EncodingError, SyncError
from sync.log import EventLog

from . import client

REQUEST_CONTEXT = b"enrol/request"


GRANT_CONTEXT = b"enrol/grant"
BUNDLE_CONTEXT = b"enrol/bundle"  # a code sent to a hub for its bundle, online (the setup page's path)


def csr_pem(key, installation: str) -> str:
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.SERIAL_NUMBER, installation)]))
        .sign(key, algorithm)
    )
    return request.public_bytes(Encoding.PEM).decode("ascii")


def make_request(identity: Identity, keys: Keys, code: str, ca_key: ec.EllipticCurvePrivateKey | None) -> bytes:
    """The enrolment request, before sealing: the code and certificate requests signed by each key."""
    if problem := code_problem(code):
        raise BadCode(problem)
    return canonical.encode(
        {
            "code": normalise(code),
            "installation": identity.installation,
            "level": identity.level,
            "region": identity.region,
            "signing_csr": csr_pem(keys.signing.private_key, identity.installation),
            "agreement_csr": csr_pem(keys.agreement, identity.installation),
            "ca_csr": csr_pem(ca_key, identity.installation) if ca_key else None,
        }
    )


def seal_request(request: bytes, hub_agreement: ec.EllipticCurvePublicKey) -> bytes:
    return cipher.seal(hub_agreement, request, context=REQUEST_CONTEXT)


def seal_code(code: str, hub_agreement: ec.EllipticCurvePublicKey) -> bytes:
    """An enrolment code on its way to the hub that issued it, asking for the station's bundle: sealed, so
    that only that hub learns it (HTTP carries it in the clear)."""
    if problem := code_problem(code):
        raise BadCode(problem)
    return cipher.seal(hub_agreement, normalise(code).encode("ascii"), context=BUNDLE_CONTEXT)


def open_grant(sealed: bytes, keys: Keys) -> dict:
    try:
        return canonical.decode(cipher.open_sealed(keys.agreement, sealed, context=GRANT_CONTEXT))
    except (CipherError, EncodingError) as exc:
        raise EnrolmentRefused("回执无法解开：不是发给本机的，或已被改动") from exc


def install_trust(events: EventLog, material: dict) -> None:
    """Adopt anchors (only at the first enrolment; later roots come by signed rotation) and
    certificates, each verified, then ingest the trust streams through the log."""
    roots = [from_pem(pem) for pem in material["anchors"]]
    known = [from_pem(pem) for pem in material["known_certificates"]]
    with events.transaction():
        if not anchors():
            for root in roots:
                upsert(TrustAnchor, fingerprint=fingerprint(root), der=root.public_bytes(Encoding.DER))
        # Certificates first, so that the streams' signers are known; one that does not chain yet
        # (issued under a root this node learns from the streams) is tried again after them.
        later = _adopt_certificates(known)
        events.trust.forget()
        for stream in material["streams"]:
            try:
                events.ingest([raw.encode("utf-8") for raw in stream["events"]], head_from_wire(stream["head"]))
            except SyncError as exc:
                raise EnrolmentRefused(f"信任数据流校验失败：{exc}") from exc
        if refused := _adopt_certificates([cert for cert, _ in later]):
            problems = "；".join(f"{cert.subject.rfc4514_string()}：{why}" for cert, why in refused)
            raise EnrolmentRefused(f"收到的证书不可信：{problems}")
        events.trust.forget()


def refresh_trust(events: EventLog, hub_url: str) -> None:
    """Fetch a hub's trust feed (public, like a CRL) and adopt what verifies against the anchors held."""
    install_trust(events, client.fetch_trust(hub_url))


def _adopt_certificates(certs: list[x509.Certificate]) -> list[tuple[x509.Certificate, str]]:
    """Store each certificate that chains to an anchor; return the others with the reason."""
    refused = []
    # Authorities first, oldest first (a rotated key's certificate needs the old one), signing before agreement.
    for cert in sorted(
        certs, key=lambda c: (binding_of(c).use != CA, c.not_valid_before_utc, binding_of(c).use != SIGNING)
    ):
        try:
            adopt_certificate(cert)
        except CertificateRefused as exc:
            refused.append((cert, str(exc)))
    return refused


def check_own_certificates(
    grant: dict, identity: Identity, keys: Keys, now: dt.datetime, issuer: tuple | None = None
) -> None:
    """The certificates must bind exactly this installation's keys, level and region, and be valid
    by this PC's clock (a clock a year off would make every later check fail). Online, `issuer`
    is the (authority, root) checked against the QR code: the certificates must come from it."""
    mine = {use: from_pem(pem) for use, pem in grant["certificates"].items()}
    if issuer is not None:
        authority, root = issuer
        if to_pem(root) not in grant["anchors"] or not all(issued_by(c, authority) for c in mine.values()):
            raise EnrolmentRefused("回执中的证书不是由二维码上的枢纽签发的，已停止注册")
    signing = mine[SIGNING]
    if not signing.not_valid_before_utc <= now <= signing.not_valid_after_utc:
        raise EnrolmentRefused(
            f"本机时间 {now:%Y-%m-%d %H:%M} UTC 不在证书有效期"
            f"（{signing.not_valid_before_utc:%Y-%m-%d} 至 {signing.not_valid_after_utc:%Y-%m-%d}）内：请先校正电脑时间"
        )
    expected = {SIGNING: keys.signing.verifying_key.public_key, AGREEMENT: keys.agreement.public_key()}
    for use, public in expected.items():
        binding = binding_of(mine[use])
        if mine[use].public_key() != public or binding.installation != identity.installation:
            raise EnrolmentRefused("收到的证书不是为本机密钥签发的")
        if (binding.level, binding.region) != (identity.level, identity.region):
            raise EnrolmentRefused("收到的证书层级或区划与本机不符")
    agreement_key_of(mine[AGREEMENT])


def own_certificate(identity: Identity, use: str) -> str:
    row = (
        Certificate.select()
        .where((Certificate.installation == identity.installation) & (Certificate.use == use))
        .order_by(Certificate.not_after.desc())
        .first()
    )
    if row is None:
        raise CertificateRefused("本枢纽自己还没有证书")
    return to_pem(x509.load_der_x509_certificate(bytes(row.der)))


def check_directory(
    directory: dict, expected_fingerprint: str | None, now: dt.datetime
) -> tuple[x509.Certificate, x509.Certificate]:
    """Trust a hub's directory only as far as the fingerprint goes: its authority must be the one
    the QR code named, and the key we will seal the code to must chain to that authority's root
    and belong to the same station. Returns the authority and its root."""
    try:
        authority = from_pem(directory["authority_certificate"])
        agreement = from_pem(directory["agreement_certificate"])
        cas = [from_pem(pem) for pem in directory["authorities"]]
        roots = [from_pem(pem) for pem in directory["anchors"]]
    except (KeyError, TypeError) as exc:
        raise EnrolmentRefused("枢纽返回的信息不完整") from exc
    if expected_fingerprint and fingerprint(authority) != expected_fingerprint.lower():
        raise EnrolmentRefused("枢纽证书指纹与二维码上的不一致：可能连到了冒充的枢纽，已停止注册")
    root = next((r for r in roots if _reaches(authority, cas, r, now)), None)
    if root is None:
        raise EnrolmentRefused("枢纽的证书机构不通往它给出的任何根证书")
    if binding_of(agreement).station != binding_of(authority).station or not _reaches(agreement, cas, root, now):
        raise EnrolmentRefused("枢纽的密钥协商证书不属于这个证书机构：可能连到了冒充的枢纽，已停止注册")
    return authority, root


def _reaches(cert: x509.Certificate, cas: list[x509.Certificate], root: x509.Certificate, now: dt.datetime) -> bool:
    try:
        find_path(cert, cas, [root], at=now)
        return True
    except CertificateRefused:
        return False
