"""Renewing an installation's certificates before they expire, or on the first contact after they
expired while the PC was offline. The keys stay the same, so every event they signed keeps
verifying; the request proves possession by being signed with those very keys.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from cryptography import x509

from provisioning.audit import audit
from provisioning.authority import AUTHORITY
from provisioning.ca import Authority
from provisioning.certs import (
    AGREEMENT,
    INSTALLATION_DAYS,
    SIGNING,
    agreement_key_of,
    binding_of,
    from_pem,
    issue,
    to_pem,
)
from provisioning.enrolment import GRANT_CONTEXT, check_own_certificates, csr_pem, install_trust, open_grant
from provisioning.errors import CertificateRefused, EnrolmentRefused
from provisioning.granting import load_csr, trust_material
from provisioning.identity import Identity, Keys, installation_id
from provisioning.trust_events import publish_certificates
from storage.models import Certificate
from sync import canonical, cipher
from sync.errors import CipherError, EncodingError
from sync.log import EventLog

from . import client

RENEW_CONTEXT = b"renew/request"
RENEW_AHEAD = dt.timedelta(days=30)


def own_expiry(identity: Identity) -> dt.datetime | None:
    """When this installation's newest signing certificate expires (UTC), if it has one."""
    row = (
        Certificate.select(Certificate.not_after)
        .where((Certificate.installation == identity.installation) & (Certificate.use == SIGNING))
        .order_by(Certificate.not_after.desc())
        .first()
    )
    return row.not_after.replace(tzinfo=dt.UTC) if row else None


def renewal_due(identity: Identity, now: dt.datetime) -> bool:
    expiry = own_expiry(identity)
    return expiry is not None and expiry - now < RENEW_AHEAD


def make_renewal(identity: Identity, keys: Keys, hub_agreement) -> bytes:
    request = {
        "installation": identity.installation,
        "signing_csr": csr_pem(keys.signing.private_key, identity.installation),
        "agreement_csr": csr_pem(keys.agreement, identity.installation),
    }
    return cipher.seal(hub_agreement, canonical.encode(request), context=RENEW_CONTEXT)


def grant_renewal(events: EventLog, hub_keys: Keys, authority: Authority, sealed: bytes, now: dt.datetime) -> bytes:
    """New certificates for keys this hub certified before; a revoked installation is refused."""
    try:
        request = canonical.decode(cipher.open_sealed(hub_keys.agreement, sealed, context=RENEW_CONTEXT))
        return _renew(events, authority, request, now)
    except (EnrolmentRefused, CertificateRefused, CipherError, EncodingError, KeyError, TypeError) as exc:
        with events.transaction():
            audit("renewal", "renew", None, "refused", str(exc))
        if isinstance(exc, (KeyError, TypeError)):
            raise EnrolmentRefused("续期请求格式无效") from exc
        raise


def _renew(events: EventLog, authority: Authority, request: dict, now: dt.datetime) -> bytes:
    installation = request["installation"]
    csrs = {SIGNING: load_csr(request["signing_csr"]), AGREEMENT: load_csr(request["agreement_csr"])}
    if installation_id(csrs[SIGNING].public_key()) != installation:
        raise EnrolmentRefused("安装编号与签名密钥不符")
    if events.trust.is_revoked(installation):
        raise EnrolmentRefused(f"安装 {installation} 已被吊销，不能续期")
    renewed = {}
    for use, csr in csrs.items():
        old = [
            x509.load_der_x509_certificate(bytes(row.der))
            for row in Certificate.select().where((Certificate.installation == installation) & (Certificate.use == use))
        ]
        previous = next((cert for cert in old if cert.public_key() == csr.public_key()), None)
        if previous is None:
            raise EnrolmentRefused("本枢纽没有为这把密钥签发过证书：新电脑请重新注册")
        binding = binding_of(previous)
        binding = dataclasses.replace(binding, authority=AUTHORITY[binding.level])  # today's rules
        renewed[use] = issue(
            binding=binding,
            public_key=csr.public_key(),
            issuer_key=authority.key,
            issuer_cert=authority.cert,
            now=now,
            days=INSTALLATION_DAYS,
        )
    with events.transaction():
        publish_certificates(events, renewed)
        audit("renewal", "renew", installation, "ok")
    events.sign_heads()
    grant = {"certificates": {use: to_pem(cert) for use, cert in renewed.items()}, **trust_material(events)}
    return cipher.seal(csrs[AGREEMENT].public_key(), canonical.encode(grant), context=GRANT_CONTEXT)


def renew_online(
    events: EventLog, identity: Identity, keys: Keys, now: dt.datetime, hub_url: str | None = None
) -> dt.datetime:
    """Ask the hub that certified this installation for new certificates; return the new expiry."""
    url = hub_url or identity.issuer_url
    if not url:
        raise EnrolmentRefused("不知道向哪个枢纽续期：请用 --hub 指定签发本机证书的枢纽")
    hub = client.fetch_directory(url)
    sealed = make_renewal(identity, keys, agreement_key_of(from_pem(hub["agreement_certificate"])))
    grant = open_grant(client.post(url, "/api/v1/enrol/renew", sealed), keys)
    check_own_certificates(grant, identity, keys, now)
    install_trust(events, grant)
    return own_expiry(identity)
