"""The certificate-based answer to `sync.trust.Trust`, and the projection of trust events.

Trust is data (invariant 10): registrations, certificates, revocations and new
roots are events in a county's or city's `all` stream, each checked here against
the trust anchors before it changes anything. A certificate is self-authenticating
(it must chain to an anchor); a revocation holds per stream the last seq the
county still vouches for, and anything later is quarantined, never dropped."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from provisioning.authority import AUTHORITY, allows, manages, may_write, provisional_stream
from provisioning.certs import (
    AGREEMENT,
    CA,
    SIGNING,
    Binding,
    binding_of,
    find_path,
    issued_by,
)
from provisioning.errors import CertificateRefused
from provisioning.identity import Identity
from storage.database import execute
from storage.models import Certificate, Revocation
from sync.keys import ECDSA_P256, ED25519, VerifyingKey
from sync.log import FEED
from sync.projection import RuleViolation

TRUST_STREAM = FEED  # a hub's stream for everything below it


REGISTERED, CERTIFIED, REVOKED, ANCHOR = "trust.registered", "trust.certified", "trust.revoked", "trust.anchor"


REPLACED = "trust.replaced"


# The look-ups a sync round makes (its parent's installation, certificates and path), as plain SQL: peewee built
# and compiled each at every call, which took longer than SQLite's answer.
_ANCHORS = "SELECT der FROM trust_anchor"
_CERTIFICATES = "SELECT der FROM certificate WHERE use = {param}"
_CERTIFICATES_OF = "SELECT der FROM certificate WHERE installation = {param} AND use = {param} ORDER BY not_after DESC"
_SERVING = (
    "SELECT installation FROM certificate WHERE station = {param} AND use = {param}"
    " AND installation NOT IN (SELECT installation FROM revocation) ORDER BY not_after DESC LIMIT 1"
)


def anchors() -> list[x509.Certificate]:
    return [x509.load_der_x509_certificate(bytes(der)) for (der,) in execute(_ANCHORS)]


def authorities() -> list[x509.Certificate]:
    return [x509.load_der_x509_certificate(bytes(der)) for (der,) in execute(_CERTIFICATES, CA)]


def build_path(leaf: x509.Certificate, at: dt.datetime) -> Binding:
    """Find and verify a path from `leaf` through the CA certificates this node knows to an anchor."""
    roots = anchors()
    if not roots:
        raise CertificateRefused("本节点尚无受信任的根证书：请先完成注册")
    return find_path(leaf, authorities(), roots, at=at)


def verifying_key_of(cert: x509.Certificate) -> VerifyingKey:
    key = cert.public_key()
    return VerifyingKey(ED25519 if isinstance(key, ed25519.Ed25519PublicKey) else ECDSA_P256, key)


class CertTrust:
    """Answers the engine's trust questions from certified installations and revocations."""

    def __init__(self, identity: Identity, own_key: VerifyingKey, now_ms: Callable[[], int]):
        self.identity = identity
        self.own_key = own_key
        self.now_ms = now_ms  # the node's clock, asked for each event decided: an int, no datetime made
        # origin -> (key, binding, not_after of its certificate in ms), or None: cleared by `forget`,
        # and an entry past its certificate's expiry is looked up again.
        self._certified: dict[str, tuple[VerifyingKey, Binding, int] | None] = {}
        # installation -> {stream: (last vouched seq, chain hash)}, empty if not revoked: asked per event.
        self._revoked: dict[str, dict[str, tuple[int, str | None]]] = {}
        self._valid_from: dict[str, int | None] = {}  # installation -> start of its first certificate, ms
        # installation -> its certified key-agreement key and that certificate's expiry: a hub seals every
        # answer to one. An installation not found is asked again (its certificates may come with a request).
        self._agreement: dict[str, tuple[ec.EllipticCurvePublicKey, int]] = {}
        self._serving: dict[str, str | None] = {}  # station -> the installation serving it: every round asks
        # The CA certificates and anchors, parsed, for the paths of the origins looked up: a round's first
        # look-ups (its parent's, its city's) read and parsed both for each.
        self._known: tuple[list[x509.Certificate], list[x509.Certificate]] | None = None

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.now_ms() / 1000, dt.UTC)

    def forget(self) -> None:
        """Trust data changed: look everything up again."""
        self._certified.clear()
        self._revoked.clear()
        self._valid_from.clear()
        self._agreement.clear()
        self._serving.clear()
        self._known = None

    def certified(self, origin: str) -> tuple[VerifyingKey, Binding] | None:
        found = self._certified.get(origin)
        if origin not in self._certified or (found is not None and found[2] < self.now_ms()):
            self._certified[origin] = found = self._lookup(origin)
        return found[:2] if found else None

    def _lookup(self, origin: str) -> tuple[VerifyingKey, Binding, int] | None:
        for (der,) in execute(_CERTIFICATES_OF, origin, SIGNING).fetchall():
            cert = x509.load_der_x509_certificate(bytes(der))
            try:
                return verifying_key_of(cert), self._path(cert), _ms(cert.not_valid_after_utc)
            except CertificateRefused:
                continue
        return None

    def _path(self, leaf: x509.Certificate) -> Binding:
        """`build_path` now, through the CA certificates and anchors as they were read for the look-up before."""
        if self._known is None:
            self._known = (authorities(), anchors())
        known, roots = self._known
        if not roots:
            raise CertificateRefused("本节点尚无受信任的根证书：请先完成注册")
        return find_path(leaf, known, roots, at=self.now())

    def serving(self, station: str) -> str | None:
        """`serving_installation`, kept until trust data changes."""
        if station not in self._serving:
            self._serving[station] = serving_installation(station)
        return self._serving[station]

    def binding(self, origin: str) -> Binding | None:
        """Who an origin is, as certified (this installation: as it was initialised)."""
        if origin == self.identity.installation:
            ident = self.identity
            return Binding(
                ident.station,
                ident.installation,
                ident.level,
                ident.name,
                ident.region,
                ident.parent,
                SIGNING,
                AUTHORITY[ident.level],
            )
        found = self.certified(origin)
        return found[1] if found else None

    def require_jurisdiction(self, origin: str, level: str, region: str) -> None:
        """A trust event about a station counts only if its author is a hub above it, in its division."""
        author = self.binding(origin)
        if author is None or not manages(author.level, author.region, level, region):
            raise RuleViolation(f"{author.name if author else origin} 无权管理辖区外或同级的站点（{region}）")

    def verifying_key(self, origin: str) -> VerifyingKey | None:
        if origin == self.identity.installation:
            return self.own_key
        found = self.certified(origin)
        return found[0] if found else None

    def authorize(self, origin: str, stream: str, seq: int, event_type: str) -> str | None:
        author = self.binding(origin)
        if author is None:
            return f"安装 {origin} 没有有效的证书"
        if not allows(author.authority, event_type):
            return f"安装 {origin} 无权签发 {event_type} 类事件"
        if not may_write(author.level, author.region, author.station, origin, stream):
            return f"安装 {origin}（{author.name}）不能写入站点 {stream} 的事件流"
        vouched = self.vouched(origin, stream)
        if vouched is not None and seq > vouched[0]:
            return f"安装 {origin} 已被吊销：县级只担保其 {stream} 流第 {vouched[0]} 号及以前的事件"
        return None

    def may_write(self, origin: str, stream: str) -> bool:
        author = self.binding(origin)
        return author is not None and may_write(author.level, author.region, author.station, origin, stream)

    def vouched(self, origin: str, stream: str) -> tuple[int, str | None] | None:
        revoked = self._revocations(origin)
        return revoked.get(stream, revoked.get("*"))

    def valid_from_ms(self, origin: str, stream: str) -> int | None:
        """When `origin`'s key was first certified (the earliest start of its signing certificates, which
        are backdated a day for clocks); None for this installation and for a provisional stream, whose
        events were signed before enrolment."""
        author = self.binding(origin)
        if origin == self.identity.installation or author is None or provisional(author, stream):
            return None
        if origin not in self._valid_from:
            starts = [
                x509.load_der_x509_certificate(bytes(der)).not_valid_before_utc
                for (der,) in execute(_CERTIFICATES_OF, origin, SIGNING).fetchall()
            ]
            self._valid_from[origin] = int(min(starts).timestamp() * 1000) if starts else None
        return self._valid_from[origin]

    def is_revoked(self, installation: str) -> bool:
        return bool(self._revocations(installation))

    def _revocations(self, installation: str) -> dict[str, tuple[int, str | None]]:
        if installation not in self._revoked:
            self._revoked[installation] = revocations(installation)
        return self._revoked[installation]

    def agreement_key(self, installation: str) -> ec.EllipticCurvePublicKey | None:
        """`agreement_key`, kept until trust data changes or the certificate expires."""
        found = self._agreement.get(installation)
        if found is None or found[1] < self.now_ms():
            cert = agreement_certificate(installation)
            if cert is None:
                return None
            self._agreement[installation] = found = (cert.public_key(), _ms(cert.not_valid_after_utc))
        return found[0]


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def provisional(author: Binding, stream: str) -> bool:
    """Whether `stream` is the installation's provisional one, from before its station was registered."""
    return stream != author.station and stream == provisional_stream(author.region, author.installation)


def revocations(installation: str) -> dict[str, tuple[int, str | None]]:
    """Per stream ("*" for the others), the last seq still vouched for and the chain hash there; empty if
    not revoked."""
    rows = Revocation.select(Revocation.stream, Revocation.last_seq, Revocation.last_chain)
    return {stream: (seq, chain) for stream, seq, chain in rows.where(Revocation.installation == installation).tuples()}


def agreement_certificate(installation: str) -> x509.Certificate | None:
    """The newest key-agreement certificate of an installation (verified when it was adopted)."""
    row = execute(_CERTIFICATES_OF, installation, AGREEMENT).fetchone()
    return x509.load_der_x509_certificate(bytes(row[0])) if row else None


def agreement_key(installation: str) -> ec.EllipticCurvePublicKey | None:
    """The key-agreement key certified for an installation."""
    cert = agreement_certificate(installation)
    return cert.public_key() if cert else None


def serving_installation(station: str) -> str | None:
    """The installation now serving a station: the newest certified one that is not revoked."""
    row = execute(_SERVING, station, SIGNING).fetchone()
    return row[0] if row else None


def newest_binding(installation: str) -> Binding | None:
    row = (
        Certificate.select()
        .where(Certificate.installation == installation)
        .order_by(Certificate.not_after.desc())
        .first()
    )
    return binding_of(x509.load_der_x509_certificate(bytes(row.der))) if row else None


def chain_of(cert: x509.Certificate) -> list[x509.Certificate]:
    """The CA certificates from `cert`'s issuer up to a self-signed root, as this node knows them: what a
    signed PDF embeds so that any validator holding the root can check it."""
    known, chain, current = authorities() + anchors(), [], cert
    while current.issuer != current.subject or not issued_by(current, current):
        issuer = next((ca for ca in known if ca.subject == current.issuer and issued_by(current, ca)), None)
        if issuer is None or issuer in chain:
            break
        chain.append(issuer)
        current = issuer
    return chain
