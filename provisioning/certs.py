"""X.509 certificates of the trust chain: the city's root, each county's intermediate, and each
installation's two end-entity certificates (signing, key agreement).

Standard enough for `openssl verify`; what openssl cannot check (a county certifies
only inside its own division, a station's level and authority) travels in one
non-critical extension, and `verify_path` here checks it everywhere.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from provisioning.errors import CertificateRefused
from provisioning.identity import installation_id
from provisioning.region import contains
from sync import canonical

# An OID arc minted from a UUID (ITU-T X.667: `2.25.<uuid as integer>`), no registry needed.
ONETRIP_ARC = "2.25.198374023475528618712371917203497561227"
STATION_EXTENSION = x509.ObjectIdentifier(f"{ONETRIP_ARC}.1")
# A seal certificate's seal: its id, kind, name and owner, so the PDF alone says which seal signed it.
SEAL_EXTENSION = x509.ObjectIdentifier(f"{ONETRIP_ARC}.2")

ROOT_YEARS, COUNTY_YEARS, INSTALLATION_DAYS = 20, 10, 730
# Certificates start a day before they are issued, so that a PC whose clock is a little
# behind its hub's still accepts them.
BACKDATE = dt.timedelta(days=1)
SIGNING, AGREEMENT, CA, SEAL = "signing", "agreement", "ca", "seal"


@dataclass(frozen=True)
class Binding:
    """What a certificate binds, beyond its key: who it is, where, and what it may sign."""

    station: str
    installation: str  # for a CA: the station's code again
    level: str
    name: str
    region: str
    parent: str | None
    use: str  # signing | agreement | ca
    authority: tuple[str, ...]  # event-type prefixes it may sign

    def encode(self) -> bytes:
        return canonical.encode(
            {
                "station": self.station,
                "installation": self.installation,
                "level": self.level,
                "name": self.name,
                "region": self.region,
                "parent": self.parent,
                "use": self.use,
                "authority": list(self.authority),
            }
        )


def binding_of(cert: x509.Certificate) -> Binding:
    try:
        raw = cert.extensions.get_extension_for_oid(STATION_EXTENSION).value.value
        fields = canonical.decode(raw)
        return Binding(**{**fields, "authority": tuple(fields["authority"])})
    except (x509.ExtensionNotFound, TypeError, KeyError, ValueError) as exc:
        raise CertificateRefused("证书缺少 OneTrip 站点信息，不是本系统签发的证书") from exc


def issued_at(cert: x509.Certificate) -> dt.datetime:
    """When the issuer signed it: checking a path at this time proves it was valid when issued."""
    return cert.not_valid_before_utc + BACKDATE


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER: what a QR code carries so that a rogue hub is detected."""
    return cert.fingerprint(hashes.SHA256()).hex()


def issue(
    *,
    binding: Binding,
    public_key,
    issuer_key,
    issuer_cert: x509.Certificate | None,
    now: dt.datetime,
    days: int,
    path_length: int | None = None,
    extensions: tuple[tuple[x509.ObjectIdentifier, bytes], ...] = (),
) -> x509.Certificate:
    """Sign a certificate for `public_key`; `issuer_cert` None makes a self-signed root.

    `extensions` are further non-critical ones (a seal's attributes), opaque to every other tool.
    """
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"{binding.name} {binding.use}"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, binding.station),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, binding.installation),
        ]
    )
    is_ca = binding.use == CA
    usage = _key_usage(binding.use)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject if issuer_cert else subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=path_length if is_ca else None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(f"urn:onetrip:{binding.installation}")]),
            critical=False,
        )
        .add_extension(x509.UnrecognizedExtension(STATION_EXTENSION, binding.encode()), critical=False)
    )
    for oid, value in extensions:
        builder = builder.add_extension(x509.UnrecognizedExtension(oid, value), critical=False)
    if issuer_cert is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_cert.public_key()), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _key_usage(use: str) -> x509.KeyUsage:
    """What a key of this use may do: a CA certifies, a signer signs (and commits), the rest agree keys."""
    usage = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    if use == CA:
        usage.update(key_cert_sign=True, crl_sign=True, digital_signature=True)
    elif use in (SIGNING, SEAL):  # non-repudiation: what PDF validators ask of a document signer
        usage.update(digital_signature=True, content_commitment=True)
    else:
        usage.update(key_agreement=True)
    return x509.KeyUsage(**usage)


def verify_path(chain: list[x509.Certificate], anchors: list[x509.Certificate], *, at: dt.datetime) -> Binding:
    """Verify leaf → … → anchor: signatures, validity at `at`, CA flags, and division containment.

    `chain[0]` is the certificate to check; the rest are its issuers in order, the
    last one issued by (or equal to) one of `anchors`. Returns the leaf's binding.
    """
    if not chain:
        raise CertificateRefused("没有证书可供验证")
    anchor_ders = {a.public_bytes(serialization.Encoding.DER) for a in anchors}
    path, checked = list(chain), None  # checked: the certificate whose signature finding its anchor verified
    if path[-1].public_bytes(serialization.Encoding.DER) not in anchor_ders:
        # Rotated roots share their subject name; the signature tells which one issued it.
        issuer = next((a for a in anchors if a.subject == path[-1].issuer and issued_by(path[-1], a)), None)
        if issuer is None:
            raise CertificateRefused("证书链不通往任何受信任的根证书")
        checked = path[-1]
        path.append(issuer)
    leaf = binding_of(chain[0])
    if leaf.use == SIGNING and leaf.installation != installation_id(chain[0].public_key()):
        raise CertificateRefused(f"证书声称属于安装 {leaf.installation}，但其公钥不是该安装的签名密钥")
    for depth, cert in enumerate(path):
        if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
            raise CertificateRefused(f"证书 {cert.subject.rfc4514_string()} 在 {at:%Y-%m-%d} 不在有效期内")
        # The anchor is trusted as it was installed: its signature on itself proves nothing (RFC 5280, 6.1).
        if depth + 1 < len(path) and cert is not checked:
            try:
                cert.verify_directly_issued_by(path[depth + 1])
            except (ValueError, TypeError, InvalidSignature) as exc:
                raise CertificateRefused(f"证书 {cert.subject.rfc4514_string()} 的签名无效") from exc
        if depth > 0:
            constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
            if not constraints.ca:
                raise CertificateRefused("签发者不是证书机构")
            inner, outer = binding_of(path[depth - 1]), binding_of(cert)
            if not contains(outer.region, inner.region):
                raise CertificateRefused(
                    f"{outer.name}（{outer.region}）无权为辖区外的 {inner.name}（{inner.region}）签发证书"
                )
    return binding_of(chain[0])


def find_path(
    leaf: x509.Certificate, authorities: list[x509.Certificate], anchors: list[x509.Certificate], *, at: dt.datetime
) -> Binding:
    """Search `authorities` for a path from `leaf` to one of `anchors` that verifies; the leaf's binding."""
    problems: list[str] = []

    def walk(path: list[x509.Certificate]) -> Binding | None:
        try:
            return verify_path(path, anchors, at=at)
        except CertificateRefused as exc:
            problems.append(str(exc))
        if len(path) > 4:
            return None
        for ca in authorities:
            if ca.subject == path[-1].issuer and ca not in path and (found := walk([*path, ca])):
                return found
        return None

    binding = walk([leaf])
    if binding is None:
        raise CertificateRefused(problems[-1] if problems else "找不到通往根证书的证书链")
    return binding


def issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except (ValueError, TypeError, InvalidSignature):
        return False


def agreement_key_of(cert: x509.Certificate) -> ec.EllipticCurvePublicKey:
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise CertificateRefused("密钥协商证书的公钥不是 P-256 密钥")
    return key


def to_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def from_pem(text: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(text.encode("ascii"))
    except ValueError as exc:
        raise CertificateRefused("证书格式无效") from exc


def spki_hash(public_key) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()
