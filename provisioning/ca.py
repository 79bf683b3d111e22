"""A hub's certificate authority: its key (`keys/ca.pem`, 0600) and its certificate.

The city's is the root, self-signed; a county's is issued by its city at
enrolment. Rotating a county's key makes a new certificate signed by the old key
(the chain of rotations), so stations enrolled under the old one keep verifying.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from provisioning.authority import AUTHORITY
from provisioning.certs import CA, COUNTY_YEARS, ROOT_YEARS, Binding, binding_of, fingerprint, issue
from provisioning.errors import CertificateRefused
from provisioning.identity import Identity
from storage.models import Certificate, TrustAnchor, upsert
from sync.keys import private_pem, write_secret

CA_KEY_FILE = "keys/ca.pem"
NEXT_CA_KEY_FILE = "keys/ca.next.pem"  # a rotation's new key, until its certificate is committed
OLD_CA_KEYS = "keys/retired"


@dataclass(frozen=True)
class Authority:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


def ca_binding(identity: Identity, station: str, parent: str | None) -> Binding:
    return Binding(
        station, station, identity.level, identity.name, identity.region, parent, CA, AUTHORITY[identity.level]
    )


def create_ca_key(data_dir: Path) -> ec.EllipticCurvePrivateKey:
    key = ec.generate_private_key(ec.SECP256R1())
    write_secret(Path(data_dir) / CA_KEY_FILE, private_pem(key))
    return key


def load_ca_key(data_dir: Path) -> ec.EllipticCurvePrivateKey | None:
    """This hub's CA key, finishing (or undoing) a rotation a crash interrupted."""
    data_dir = Path(data_dir)
    pending = data_dir / NEXT_CA_KEY_FILE
    if pending.exists():
        key = serialization.load_pem_private_key(pending.read_bytes(), None)
        if _certificates_for(key.public_key()):
            promote_next_key(data_dir)  # the rotation's event committed: the new key is the key
        else:
            pending.unlink()  # it did not: the old key stays, as if the rotation never began
    path = data_dir / CA_KEY_FILE
    return serialization.load_pem_private_key(path.read_bytes(), None) if path.exists() else None


def _certificates_for(public) -> list[x509.Certificate]:
    certs = [x509.load_der_x509_certificate(bytes(r.der)) for r in Certificate.select().where(Certificate.use == CA)]
    certs += [x509.load_der_x509_certificate(bytes(r.der)) for r in TrustAnchor.select()]
    return [c for c in certs if c.public_key() == public]


def create_root(identity: Identity, key: ec.EllipticCurvePrivateKey, now: dt.datetime) -> x509.Certificate:
    """The city's self-signed root, installed as this node's first trust anchor."""
    root = issue(
        binding=ca_binding(identity, identity.station, None),
        public_key=key.public_key(),
        issuer_key=key,
        issuer_cert=None,
        now=now,
        days=ROOT_YEARS * 365,
        path_length=2,  # root → county → (a county's rotated key) → installation
    )
    upsert(TrustAnchor, fingerprint=fingerprint(root), der=root.public_bytes(Encoding.DER), from_event=False)
    return root


def load_authority(data_dir: Path) -> Authority | None:
    """This hub's CA key and the newest certificate (or anchor) for it; None if it has none yet."""
    key = load_ca_key(data_dir)
    if key is None:
        return None
    mine = _certificates_for(key.public_key())
    if not mine:
        return None
    return Authority(key, max(mine, key=lambda c: c.not_valid_after_utc))


def require_authority(data_dir: Path) -> Authority:
    authority = load_authority(data_dir)
    if authority is None:
        raise CertificateRefused("本节点还不是证书机构：市级节点在初始化时生成根证书，县级节点须先由市级注册")
    return authority


def _new_key(data_dir: Path) -> ec.EllipticCurvePrivateKey:
    """The rotation's new key, written beside the old one; `promote_next_key` swaps them once the
    event certifying it has committed, so a crash at any point leaves a hub that is still a CA."""
    new_key = ec.generate_private_key(ec.SECP256R1())
    write_secret(Path(data_dir) / NEXT_CA_KEY_FILE, private_pem(new_key))
    return new_key


def promote_next_key(data_dir: Path) -> None:
    """Retire the old key (kept 0600, only to prove the link) and make the new one current."""
    data_dir = Path(data_dir)
    old = data_dir / CA_KEY_FILE
    retired = data_dir / OLD_CA_KEYS / f"ca-{hashlib.sha256(old.read_bytes()).hexdigest()[:16]}.pem"
    if not retired.exists():
        write_secret(retired, old.read_bytes())
    os.replace(data_dir / NEXT_CA_KEY_FILE, old)


def rotate_root(data_dir: Path, authority: Authority, now: dt.datetime) -> tuple[x509.Certificate, x509.Certificate]:
    """The city's new root, self-signed, and the cross certificate by which the old root vouches for it."""
    new_key = _new_key(data_dir)
    binding = binding_of(authority.cert)
    root = issue(
        binding=binding,
        public_key=new_key.public_key(),
        issuer_key=new_key,
        issuer_cert=None,
        now=now,
        days=ROOT_YEARS * 365,
        path_length=2,
    )
    cross = issue(
        binding=binding,
        public_key=new_key.public_key(),
        issuer_key=authority.key,
        issuer_cert=authority.cert,
        now=now,
        days=ROOT_YEARS * 365,
        path_length=2,
    )
    return root, cross


def rotate(data_dir: Path, authority: Authority, now: dt.datetime) -> x509.Certificate:
    """A county's new CA key, certified by the old one."""
    new_key = _new_key(data_dir)
    cert = issue(
        binding=binding_of(authority.cert),
        public_key=new_key.public_key(),
        issuer_key=authority.key,
        issuer_cert=authority.cert,
        now=now,
        days=COUNTY_YEARS * 365,
        path_length=0,  # the city re-certifies the new key at its next contact
    )
    return cert
