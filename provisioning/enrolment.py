"""Registration and enrolment: a hub registers a station and hands out a one-time code; the
station's installation proves its keys with certificate requests and gets its certificates,
the trust anchors and the hub's trust streams back — online, or on files carried both ways.

The request is sealed to the hub's key-agreement key and the grant to the station's, so
the code and the certificates never cross the wire readable. Nothing the station merely
says is trusted: its installation id must be the hash of the key that signed its request.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from storage.models import Certificate, Registration, StreamHead, TrustAnchor, upsert
from sync import canonical, cipher
from sync.chain import head_from_wire
from sync.errors import CipherError, EncodingError, SyncError
from sync.log import EventLog

from . import client
from .audit import audit
from .authority import AUTHORITY
from .ca import Authority
from .certs import (
    AGREEMENT,
    CA,
    COUNTY_YEARS,
    INSTALLATION_DAYS,
    SIGNING,
    Binding,
    agreement_key_of,
    binding_of,
    find_path,
    fingerprint,
    from_pem,
    issue,
    issued_by,
    to_pem,
)
from .codes import code_hash, code_problem, normalise
from .errors import BadCode, CertificateRefused, EnrolmentRefused
from .identity import Identity, Keys, installation_id
from .registration import naive_utc, registration_fields
from .trust import (
    REGISTERED,
    REPLACED,
    TRUST_STREAM,
    adopt_certificate,
    anchors,
    authorities,
    publish_certificates,
    trust_entity,
)

REQUEST_CONTEXT = b"enrol/request"
GRANT_CONTEXT = b"enrol/grant"


def certify_own_installation(
    events: EventLog,
    identity: Identity,
    keys: Keys,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    now: dt.datetime,
) -> None:
    """The city, holding the root, registers and certifies its own installation."""
    with events.transaction():
        events.append(
            REGISTERED,
            trust_entity("station", identity.station),
            {
                "station": identity.station,
                "name": identity.name,
                "level": identity.level,
                "region": identity.region,
                "parent": None,
            },
            stream=TRUST_STREAM,
        )
        publish_certificates(
            events,
            {
                use: issue(
                    binding=Binding(
                        identity.station,
                        identity.installation,
                        identity.level,
                        identity.name,
                        identity.region,
                        None,
                        use,
                        AUTHORITY[identity.level],
                    ),
                    public_key=public,
                    issuer_key=ca_key,
                    issuer_cert=ca_cert,
                    now=now,
                    days=INSTALLATION_DAYS,
                )
                for use, public in (
                    (SIGNING, keys.signing.verifying_key.public_key),
                    (AGREEMENT, keys.agreement.public_key()),
                )
            },
        )


# -- the installation: asking ----------------------------------------------------------


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


# -- hub: granting -------------------------------------------------------------------


def grant_enrolment(
    events: EventLog, hub: Identity, hub_keys: Keys, authority: Authority, sealed: bytes, now: dt.datetime
) -> bytes:
    """Check a sealed request and answer with a grant sealed to the requester; refusals are audited."""
    try:
        request = canonical.decode(cipher.open_sealed(hub_keys.agreement, sealed, context=REQUEST_CONTEXT))
        return _grant(events, hub, hub_keys, authority, request, now)
    except (BadCode, EnrolmentRefused, CertificateRefused, CipherError, EncodingError) as exc:
        with events.transaction():
            audit("enrolment", "enrol", None, "refused", str(exc))
        raise


def load_csr(pem: Any) -> x509.CertificateSigningRequest:
    try:
        csr = x509.load_pem_x509_csr(str(pem).encode("ascii"))
    except ValueError as exc:
        raise EnrolmentRefused("证书请求格式无效") from exc
    if not csr.is_signature_valid:
        raise EnrolmentRefused("证书请求的签名与其公钥不符")
    return csr


def _grant(
    events: EventLog, hub: Identity, hub_keys: Keys, authority: Authority, request: dict, now: dt.datetime
) -> bytes:
    if not isinstance(request, dict) or problem_of(request):
        raise EnrolmentRefused(problem_of(request) if isinstance(request, dict) else "请求格式无效")
    registration = Registration.get_or_none(Registration.code_hash == code_hash(request["code"]))
    if registration is None:
        raise BadCode("注册码无效：不是本枢纽签发的注册码，或已被更换")
    if registration.enrolled_installation:
        raise BadCode(f"注册码已使用：站点 {registration.station} 已完成注册")
    if naive_utc(now) > registration.code_expires_at:
        raise BadCode("注册码已过期：请管理员重新生成")
    signing_csr, agreement_csr = load_csr(request["signing_csr"]), load_csr(request["agreement_csr"])
    if installation_id(signing_csr.public_key()) != request["installation"]:
        raise EnrolmentRefused("安装编号与签名密钥不符")
    if events.trust.is_revoked(request["installation"]):
        raise EnrolmentRefused(f"安装 {request['installation']} 已被吊销，不能再次注册：请用新安装注册")
    if (request["level"], request["region"]) != (registration.level, registration.region):
        mine, registered = f"{request['level']} {request['region']}", f"{registration.level} {registration.region}"
        raise EnrolmentRefused(f"本机初始化为 {mine}，与登记的 {registered} 不符")
    agreement_key_of_csr = agreement_csr.public_key()
    if not isinstance(agreement_key_of_csr, ec.EllipticCurvePublicKey):
        raise EnrolmentRefused("密钥协商请求必须是 P-256 密钥")
    ca_public = None
    if registration.level == "county":
        if not request.get("ca_csr"):
            raise EnrolmentRefused("县级枢纽的注册须附带证书机构的证书请求")
        ca_public = load_csr(request["ca_csr"]).public_key()
    certs = enrol_installation(
        events,
        authority,
        registration,
        request["installation"],
        signing_csr.public_key(),
        agreement_key_of_csr,
        ca_public,
        now,
    )
    events.sign_heads()
    grant = {
        **registration_fields(registration),
        "certificates": {use: to_pem(cert) for use, cert in certs.items()},
        **trust_material(events),
    }
    if hub.level == "county":  # one search key across the county, so its hub finds residents by ID number
        grant["lookup_key"] = base64.b64encode(hub_keys.lookup).decode("ascii")
    return cipher.seal(agreement_key_of_csr, canonical.encode(grant), context=GRANT_CONTEXT)


def enrol_installation(
    events: EventLog,
    authority: Authority,
    registration: Registration,
    installation: str,
    signing_public,
    agreement_public: ec.EllipticCurvePublicKey,
    ca_public: ec.EllipticCurvePublicKey | None,
    now: dt.datetime,
) -> dict[str, x509.Certificate]:
    """Certify a registered station's installation and publish its certificates in the trust stream.

    The checked request's keys in; the grant is built by the caller. Apart from the request's
    sealing and checks, so that the fleet simulator enrols its stations the way a hub does.
    """

    def binding(use: str) -> Binding:
        return Binding(
            registration.station,
            registration.station if use == CA else installation,
            registration.level,
            registration.name,
            registration.region,
            registration.parent,
            use,
            AUTHORITY[registration.level],
        )

    certs = {
        use: issue(
            binding=binding(use),
            public_key=public,
            issuer_key=authority.key,
            issuer_cert=authority.cert,
            now=now,
            days=INSTALLATION_DAYS,
        )
        for use, public in ((SIGNING, signing_public), (AGREEMENT, agreement_public))
    }
    if ca_public is not None:
        certs[CA] = issue(
            binding=binding(CA),
            public_key=ca_public,
            issuer_key=authority.key,
            issuer_cert=authority.cert,
            now=now,
            days=COUNTY_YEARS * 365,
            path_length=1,
        )
    with events.transaction():
        # Claim the code first, conditionally: of two requests racing with one code, one wins.
        claimed = (
            Registration.update(enrolled_installation=installation, first_admin_hash=None)
            .where((Registration.station == registration.station) & Registration.enrolled_installation.is_null())
            .execute()
        )
        if not claimed:
            raise BadCode(f"注册码已使用：站点 {registration.station} 已完成注册")
        publish_certificates(events, certs)
        if registration.previous_installation:
            events.append(
                REPLACED,
                trust_entity("replacement", installation),
                {
                    "installation": installation,
                    "replaces": registration.previous_installation,
                    "station": registration.station,
                },
                stream=TRUST_STREAM,
            )
        audit("enrolment", "enrol", registration.station, "ok", installation)
    return certs


def problem_of(request: dict) -> str | None:
    for key in ("code", "installation", "level", "region", "signing_csr", "agreement_csr"):
        if not isinstance(request.get(key), str):
            return f"请求缺少 {key}"
    return code_problem(request["code"])


def trust_material(events: EventLog) -> dict:
    """What a node below needs to trust: anchors, every known certificate, and the trust streams up to signed heads."""
    events.sign_heads()
    streams = []
    for head_row in StreamHead.select().where(StreamHead.stream == TRUST_STREAM):
        head = events.latest_head(head_row.origin, TRUST_STREAM)
        if head is not None:
            raws = events.events_of(head.origin, TRUST_STREAM, 0, head.seq)
            streams.append({"events": [raw.decode("utf-8") for raw in raws], "head": head.to_wire()})
    return {
        "anchors": [to_pem(cert) for cert in anchors()],
        "known_certificates": [to_pem(x509.load_der_x509_certificate(bytes(c.der))) for c in Certificate.select()],
        "streams": streams,
    }


# -- the installation: accepting -------------------------------------------------------


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


def hub_directory(identity: Identity, authority: Authority) -> dict:
    """Public: what an installation needs before it sends its sealed request, with the chain that
    lets it check the agreement key against the authority whose fingerprint it was given."""
    return {
        "station": identity.station,
        "installation": identity.installation,
        "name": identity.name,
        "agreement_certificate": own_certificate(identity, AGREEMENT),
        "authority_certificate": to_pem(authority.cert),
        "authorities": [to_pem(cert) for cert in authorities()],
        "anchors": [to_pem(cert) for cert in anchors()],
    }


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
