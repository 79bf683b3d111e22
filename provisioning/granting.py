"""Enrolment, the hub's side: a sealed certificate request checked against the one-time code and the key
that signed it (an installation's id must be that key's hash; nothing the station merely says is
trusted), the installation certified, and the grant sealed back with the trust material it needs.
A city also certifies its own installation this way, once.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from provisioning.audit import audit
from provisioning.authority import AUTHORITY
from provisioning.ca import Authority
from provisioning.certs import (
    AGREEMENT,
    CA,
    COUNTY_YEARS,
    INSTALLATION_DAYS,
    SIGNING,
    Binding,
    issue,
    to_pem,
)
from provisioning.codes import code_problem
from provisioning.enrolment import GRANT_CONTEXT, REQUEST_CONTEXT, own_certificate
from provisioning.errors import BadCode, CertificateRefused, EnrolmentRefused
from provisioning.identity import Identity, Keys, installation_id
from provisioning.registration import registration_fields, usable_registration
from provisioning.trust import REGISTERED, REPLACED, TRUST_STREAM, anchors, authorities
from provisioning.trust_events import publish_certificates, trust_entity
from storage.models import Certificate, Registration, StreamHead
from sync import canonical, cipher
from sync.errors import CipherError, EncodingError
from sync.log import EventLog


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
    registration = usable_registration(request["code"], now)
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

    certs = _certificates(authority, registration, installation, signing_public, agreement_public, ca_public, now)
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


def _certificates(
    authority: Authority,
    registration: Registration,
    installation: str,
    signing_public,
    agreement_public: ec.EllipticCurvePublicKey,
    ca_public: ec.EllipticCurvePublicKey | None,
    now: dt.datetime,
) -> dict[str, x509.Certificate]:
    """The installation's signing and agreement certificates, and a county's CA certificate, as registered."""

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
