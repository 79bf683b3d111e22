"""Seals across the fleet: a county orders a seal for a station, the holder makes the key and asks,
the county certifies it and publishes the record in its `all` stream, and revokes it there.

The request and the grant reuse enrolment's machinery: a certificate request proving the key, the
sealed envelope both ways, and the county's trust material, so the seal's record reaches the holder
as an event of the county's stream, verified like every trust event. Online, the sealed request
goes to `POST /api/v1/seals/request`; offline, it travels as a file and the grant comes back as one."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from node.context import Context
from node.printing.stamp import SIZE_MM, draw, image_digest
from node.seals.records import RECORD_DOMAIN, SealRecord, SealRefused, order_fields, order_problems
from provisioning import client
from provisioning.audit import audit
from provisioning.authority import manages
from provisioning.ca import require_authority
from provisioning.certs import (
    AGREEMENT,
    SEAL,
    SEAL_EXTENSION,
    Binding,
    fingerprint,
    issue,
    to_pem,
)
from provisioning.enrolment import csr_pem, install_trust
from provisioning.errors import CertificateRefused, ProvisioningError
from provisioning.granting import load_csr, trust_material
from provisioning.recipients import agreement_keys, issuer_station
from provisioning.seal_keys import create_seal_key, seal_public_key
from provisioning.trust import TRUST_STREAM
from storage.models import Certificate, Seal, SealOrder, Station
from sync import canonical, cipher
from sync.errors import CipherError, EncodingError, SignatureError
from sync.keys import ECDSA_P256, SigningKey

SEAL_ISSUED, SEAL_REVOKED, SEAL_USED = "seal.issued", "seal.revoked", "seal.used"


SEAL_RECEIVED = "seal.received"  # the county's countersignature: when it first held a use


REQUEST_CONTEXT, GRANT_CONTEXT = b"seal/request", b"seal/grant"


REQUEST_DOMAIN = b"onetrip/seal-request/v1\n"


REQUEST_PATH = "/api/v1/seals/request"


def seal_entity(seal_id: str) -> str:
    return f"seal:{seal_id}"


def seal_attributes(cert: x509.Certificate) -> dict:
    """The seal a certificate is for, from its extension: readable from a PDF alone."""
    try:
        return canonical.decode(cert.extensions.get_extension_for_oid(SEAL_EXTENSION).value.value)
    except (x509.ExtensionNotFound, EncodingError) as exc:
        raise CertificateRefused("证书不是 OneTrip 的印章证书") from exc


def order_seal(
    node: Context, *, station: str, kind: str, name: str, owner: str, credit_code: str, valid_days: int, actor: str
) -> str:
    """Order a seal for a station in this hub's division; its id, which the holder asks with."""
    require_authority(node.config.data_dir)
    problems = order_problems(kind, name, owner, credit_code, valid_days)
    target = Station.get_or_none(Station.code == station)
    if target is None or not manages(node.identity.level, node.identity.region, target.level, target.region):
        problems.insert(0, f"站点 {station} 不在本枢纽辖区内")
    if problems:
        raise SealRefused("；".join(problems))
    with node.events.transaction():
        seal_id = f"{node.identity.region}-S{SealOrder.select().count() + 1:04d}"
        SealOrder.create(
            seal_id=seal_id,
            station=station,
            valid_days=valid_days,
            ordered_by=actor,
            **order_fields(kind, name, owner, credit_code),
        )
        audit(actor, "order_seal", seal_id, "ok", station)
    return seal_id


def grant_seal(node: Context, sealed: bytes) -> bytes:
    """Certify the key a holder made for an ordered seal; answer with the county's trust material,
    sealed to the requesting installation. Refusals are audited."""
    try:
        body = canonical.decode(cipher.open_sealed(node.keys.agreement, sealed, context=REQUEST_CONTEXT))
        return _grant(node, body["request"].encode("utf-8"), bytes.fromhex(body["signature"]))
    except (ProvisioningError, SealRefused, CipherError, EncodingError, KeyError, TypeError, ValueError) as exc:
        with node.events.transaction():
            audit("seal", "grant_seal", None, "refused", str(exc))
        if isinstance(exc, (SealRefused, ProvisioningError)):
            raise
        raise SealRefused("印章申请无法解开或格式无效：不是发给本枢纽的，或已被改动") from exc


def _grant(node: Context, raw: bytes, signature: bytes) -> bytes:
    request = canonical.decode(raw)
    installation = request["installation"]
    trust = node.events.trust
    key = trust.verifying_key(installation)
    try:
        if key is None or trust.is_revoked(installation):
            raise SignatureError("not certified")
        key.verify(signature, REQUEST_DOMAIN + raw)
    except SignatureError as exc:
        raise SealRefused(f"印章申请不是由本县有效的安装签署的（{installation}）") from exc
    order = SealOrder.get_or_none(SealOrder.seal_id == request["seal"])
    holder = trust.binding(installation)
    if order is None or order.station != holder.station:
        raise SealRefused(f"本枢纽没有为站点 {holder.station} 订制印章 {request['seal']}")
    if order.issued:
        raise SealRefused(f"印章 {order.seal_id} 已经签发过：一枚印章只签发一次，遗失请吊销后重新订制")
    public = load_csr(request["csr"]).public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey) or not isinstance(public.curve, ec.SECP256R1):
        raise SealRefused("印章密钥必须是 ECDSA P-256 密钥")
    authority = require_authority(node.config.data_dir)
    now = node.now()
    attributes = {k: getattr(order, k) for k in ("kind", "name", "owner", "credit_code")}
    binding = Binding(holder.station, installation, holder.level, holder.name, holder.region, holder.parent, SEAL, ())
    cert = issue(
        binding=binding,
        public_key=public,
        issuer_key=authority.key,
        issuer_cert=authority.cert,
        now=now,
        days=order.valid_days,
        extensions=((SEAL_EXTENSION, canonical.encode({"seal": order.seal_id, **attributes})),),
    )
    record = SealRecord(
        seal_id=order.seal_id,
        holder_station=holder.station,
        holder_installation=installation,
        image_digest=image_digest(draw(order.owner, order.name)),
        size_mm=SIZE_MM,
        signers=(fingerprint(cert),),
        valid_from=now.date().isoformat(),
        valid_to=cert.not_valid_after_utc.date().isoformat(),
        maker=node.identity.station,
        **attributes,
    ).encode()
    maker_signature = SigningKey(ECDSA_P256, authority.key).sign(RECORD_DOMAIN + record)
    payload = {"record": record.decode("utf-8"), "maker_signature": maker_signature.hex(), "certificate": to_pem(cert)}
    with node.events.transaction():
        node.events.append(SEAL_ISSUED, seal_entity(order.seal_id), payload, stream=TRUST_STREAM)
        SealOrder.update(issued=True).where(SealOrder.seal_id == order.seal_id).execute()
        audit("seal", "grant_seal", order.seal_id, "ok", installation)
    node.events.sign_heads()
    recipient = _agreement_key_of(installation)
    grant = canonical.encode({"seal": order.seal_id, **trust_material(node.events)})
    return cipher.seal(recipient, grant, context=GRANT_CONTEXT)


def _agreement_key_of(installation: str) -> ec.EllipticCurvePublicKey:
    row = (
        Certificate.select()
        .where((Certificate.installation == installation) & (Certificate.use == AGREEMENT))
        .order_by(Certificate.not_after.desc())
        .first()
    )
    if row is None:
        raise SealRefused(f"本枢纽没有安装 {installation} 的密钥协商证书")
    return x509.load_der_x509_certificate(bytes(row.der)).public_key()


def revoke_seal(node: Context, seal_id: str, reason: str, actor: str) -> None:
    """Revoke a seal (a lost PC, a closed centre); it travels down with the county's trust stream."""
    require_authority(node.config.data_dir)
    seal = Seal.get_or_none(Seal.seal_id == seal_id)
    station = Station.get_or_none(Station.code == seal.station) if seal else None
    if station is None or not manages(node.identity.level, node.identity.region, station.level, station.region):
        raise SealRefused(f"印章 {seal_id} 不是本枢纽辖区内签发的，无权吊销")
    if seal.revoked_at is not None:
        raise SealRefused(f"印章 {seal_id} 已于 {seal.revoked_at:%Y-%m-%d %H:%M} UTC 吊销")
    with node.events.transaction():
        node.events.append(
            SEAL_REVOKED, seal_entity(seal_id), {"seal": seal_id, "reason": reason.strip()}, stream=TRUST_STREAM
        )
        audit(actor, "revoke_seal", seal_id, "ok", reason)
    node.events.sign_heads()


def reissue_for(node: Context, installation: str, reason: str, actor: str) -> list[str]:
    """A station's PC is replaced: its seals die with its keys (a seal key never leaves its installation),
    so each is revoked and ordered again, the same seal for the same station, for the new PC to request.
    The new orders' ids, to tell the station."""
    reordered = []
    held = Seal.select().where((Seal.installation == installation) & Seal.revoked_at.is_null())
    for seal in list(held):
        revoke_seal(node, seal.seal_id, f"更换电脑：{reason}", actor)
        days = (seal.valid_to - seal.valid_from).days
        reordered.append(
            order_seal(
                node,
                station=seal.station,
                kind=seal.kind,
                name=seal.name,
                owner=seal.owner,
                credit_code=seal.credit_code,
                valid_days=days,
                actor=actor,
            )
        )
    return reordered


def request_seal(node: Context, seal_id: str, pin: str) -> bytes:
    """Make the seal's key here, under the PIN, and the request to carry (or send) to the county."""
    hub = issuer_station(node.identity)
    recipients = agreement_keys({hub}, node.identity) if hub else {}
    if not recipients:
        raise SealRefused("本机尚未注册到县级枢纽，不能申请印章")
    key = create_seal_key(node.config.data_dir, seal_id, pin)
    raw = canonical.encode(
        {"seal": seal_id, "installation": node.identity.installation, "csr": csr_pem(key, node.identity.installation)}
    )
    body = {"request": raw.decode("utf-8"), "signature": node.keys.signing.sign(REQUEST_DOMAIN + raw).hex()}
    return cipher.seal(next(iter(recipients.values())), canonical.encode(body), context=REQUEST_CONTEXT)


def install_seal(node: Context, sealed_grant: bytes) -> Seal:
    """Adopt the county's answer: its trust streams carry the seal's record, which must bind our key."""
    try:
        grant = canonical.decode(cipher.open_sealed(node.keys.agreement, sealed_grant, context=GRANT_CONTEXT))
    except (CipherError, EncodingError) as exc:
        raise SealRefused("印章回执无法解开：不是发给本机的，或已被改动") from exc
    install_trust(node.events, grant)
    seal = Seal.get_or_none(Seal.seal_id == grant["seal"])
    if seal is None or seal.installation != node.identity.installation:
        raise SealRefused(f"回执中没有发给本机的印章 {grant['seal']}")
    cert = x509.load_der_x509_certificate(bytes(seal.certificate))
    if cert.public_key() != seal_public_key(node.config.data_dir, seal.seal_id):
        raise SealRefused("回执中的印章证书不是为本机的印章密钥签发的")
    return seal


def request_online(node: Context, seal_id: str, pin: str, hub_url: str | None = None) -> Seal:
    url = hub_url or node.identity.issuer_url
    if not url:
        raise SealRefused("不知道县级枢纽的网址：请用 --hub 指定，或用文件申请")
    return install_seal(node, client.post(url, REQUEST_PATH, request_seal(node, seal_id, pin)))
