"""The certificate-based answer to `sync.trust.Trust`, and the projection of trust events.

Trust is data (invariant 10): registrations, certificates, revocations and new
roots are events in a county's or city's `all` stream, each checked here against
the trust anchors before it changes anything. A certificate is self-authenticating
(it must chain to an anchor); a revocation holds per stream the last seq the
county still vouches for, and anything later is quarantined, never dropped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding

from storage.models import Certificate, Replacement, Revocation, Station, TrustAnchor, upsert
from sync.event import Event
from sync.keys import ECDSA_P256, ED25519, VerifyingKey
from sync.log import FEED, FEED_RENEWED
from sync.projection import RuleViolation

from .authority import AUTHORITY, allows, manages, may_write, provisional_stream
from .certs import (
    AGREEMENT,
    CA,
    SIGNING,
    Binding,
    binding_of,
    find_path,
    fingerprint,
    from_pem,
    issued_at,
    issued_by,
    verify_path,
)
from .errors import CertificateRefused
from .identity import Identity
from .region import HANDLING_LEVELS, LEVELS

TRUST_STREAM = FEED  # a hub's stream for everything below it
REGISTERED, CERTIFIED, REVOKED, ANCHOR = "trust.registered", "trust.certified", "trust.revoked", "trust.anchor"
REPLACED = "trust.replaced"


def anchors() -> list[x509.Certificate]:
    return [x509.load_der_x509_certificate(bytes(a.der)) for a in TrustAnchor.select()]


def authorities() -> list[x509.Certificate]:
    return [x509.load_der_x509_certificate(bytes(c.der)) for c in Certificate.select().where(Certificate.use == CA)]


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

    def __init__(self, identity: Identity, own_key: VerifyingKey, now: Callable[[], dt.datetime]):
        self.identity = identity
        self.own_key = own_key
        self.now = now
        # origin -> (key, binding, not_after of its certificate), or None: cleared by `forget`,
        # and an entry past its certificate's expiry is looked up again.
        self._certified: dict[str, tuple[VerifyingKey, Binding, dt.datetime] | None] = {}
        # installation -> {stream: last vouched seq}, empty if not revoked: asked once per event applied.
        self._revoked: dict[str, dict[str, int]] = {}
        self._valid_from: dict[str, int | None] = {}  # installation -> start of its first certificate, ms

    def forget(self) -> None:
        """Trust data changed: look everything up again."""
        self._certified.clear()
        self._revoked.clear()
        self._valid_from.clear()

    def certified(self, origin: str) -> tuple[VerifyingKey, Binding] | None:
        found = self._certified.get(origin)
        if origin not in self._certified or (found is not None and found[2] < self.now()):
            self._certified[origin] = found = self._lookup(origin)
        return found[:2] if found else None

    def _lookup(self, origin: str) -> tuple[VerifyingKey, Binding, dt.datetime] | None:
        rows = (
            Certificate.select()
            .where((Certificate.installation == origin) & (Certificate.use == SIGNING))
            .order_by(Certificate.not_after.desc())
        )
        for row in rows:
            cert = x509.load_der_x509_certificate(bytes(row.der))
            try:
                return verifying_key_of(cert), build_path(cert, self.now()), cert.not_valid_after_utc
            except CertificateRefused:
                continue
        return None

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
        if origin not in self._revoked:
            self._revoked[origin] = revocations(origin)
        vouched = self._revoked[origin].get(stream, self._revoked[origin].get("*"))
        if vouched is not None and seq > vouched:
            return f"安装 {origin} 已被吊销：县级只担保其 {stream} 流第 {vouched} 号及以前的事件"
        return None

    def may_write(self, origin: str, stream: str) -> bool:
        author = self.binding(origin)
        return author is not None and may_write(author.level, author.region, author.station, origin, stream)

    def vouched(self, origin: str, stream: str) -> tuple[int, str | None] | None:
        row = Revocation.get_or_none(installation=origin, stream=stream) or Revocation.get_or_none(
            installation=origin, stream="*"
        )
        return (row.last_seq, row.last_chain) if row else None

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
                for (der,) in Certificate.select(Certificate.der)
                .where((Certificate.installation == origin) & (Certificate.use == SIGNING))
                .tuples()
            ]
            self._valid_from[origin] = int(min(starts).timestamp() * 1000) if starts else None
        return self._valid_from[origin]

    def is_revoked(self, installation: str) -> bool:
        return Revocation.select().where(Revocation.installation == installation).exists()


def provisional(author: Binding, stream: str) -> bool:
    """Whether `stream` is the installation's provisional one, from before its station was registered."""
    return stream != author.station and stream == provisional_stream(author.region, author.installation)


def revocations(installation: str) -> dict[str, int]:
    """Per stream ("*" for the others), the last seq still vouched for; empty if not revoked."""
    return dict(
        Revocation.select(Revocation.stream, Revocation.last_seq)
        .where(Revocation.installation == installation)
        .tuples()
    )


class TrustProjection:
    event_types = frozenset({REGISTERED, CERTIFIED, REVOKED, ANCHOR, REPLACED, FEED_RENEWED})

    def __init__(self, trust: CertTrust):
        self.trust = trust

    def apply(self, event: Event) -> None:
        payload = event.payload
        self.trust.forget()
        if event.type == FEED_RENEWED:
            return  # it only carries a fresh signature on the feed's head
        if event.type == REGISTERED:
            author = self.trust.binding(event.origin)
            if author is None or payload["station"] != author.station:  # the city registers itself
                self.trust.require_jurisdiction(event.origin, payload["level"], payload["region"])
            upsert(
                Station,
                code=payload["station"],
                name=payload["name"],
                level=payload["level"],
                region=payload["region"],
                parent=payload.get("parent"),
            )
        elif event.type == CERTIFIED:
            self._certified(from_pem(payload["certificate"]))
        elif event.type == REVOKED:
            target = newest_binding(payload["installation"])
            if target is None:
                raise RuleViolation(f"不认识被吊销的安装 {payload['installation']}：其证书尚未收到")
            self.trust.require_jurisdiction(event.origin, target.level, target.region)
            chains = payload.get("last_chain", {})
            for stream, last_seq in {"*": 0, **payload["last_seq"]}.items():
                upsert(
                    Revocation,
                    installation=payload["installation"],
                    stream=stream,
                    last_seq=last_seq,
                    last_chain=chains.get(stream),
                )
        elif event.type == REPLACED:
            station = Station.get_or_none(Station.code == payload["station"])
            if station is None:
                raise RuleViolation(f"不认识站点 {payload['station']}")
            self.trust.require_jurisdiction(event.origin, station.level, station.region)
            upsert(
                Replacement,
                installation=payload["installation"],
                replaces=payload["replaces"],
                station=payload["station"],
            )
        else:
            author = self.trust.binding(event.origin)
            if author is None or author.level != "city":
                raise RuleViolation("只有市级枢纽能发布新的根证书")
            self._anchor(from_pem(payload["certificate"]), from_pem(payload["cross"]))

    def _certified(self, cert: x509.Certificate) -> None:
        try:
            adopt_certificate(cert)
        except CertificateRefused as exc:
            raise RuleViolation(f"证书不可信：{exc}") from exc

    def _anchor(self, root: x509.Certificate, cross: x509.Certificate) -> None:
        """A new root is trusted only if an existing anchor signed it (the cross certificate)."""
        try:
            verify_path([cross], anchors(), at=issued_at(cross))
        except CertificateRefused as exc:
            raise RuleViolation(f"新根证书未经现有根证书签署：{exc}") from exc
        if cross.public_key() != root.public_key():
            raise RuleViolation("交叉证书与新根证书的公钥不一致")
        upsert(TrustAnchor, fingerprint=fingerprint(root), der=root.public_bytes(Encoding.DER), from_event=True)

    def reset(self, entity: str | None) -> None:
        self.trust.forget()
        if entity is None:
            # Certificates stay: each chains to an anchor on its own, and the replay needs the
            # hubs' certificates to authorise the very events that carried them.
            Revocation.delete().execute()
            Replacement.delete().execute()
            TrustAnchor.delete().where(TrustAnchor.from_event == True).execute()  # noqa: E712
            Station.delete().execute()
            return
        kind, _, key = entity.partition(":")[2].partition(":")
        if kind == "station":
            Station.delete().where(Station.code == key).execute()
        elif kind == "cert":
            Certificate.delete().where(Certificate.serial == key).execute()
        elif kind == "replacement":
            Replacement.delete().where(Replacement.installation == key).execute()
        elif kind == "revocation":
            Revocation.delete().where(Revocation.installation == key).execute()
        elif kind == "anchor":
            TrustAnchor.delete().where((TrustAnchor.fingerprint == key) & (TrustAnchor.from_event == True)).execute()  # noqa: E712


def adopt_certificate(cert: x509.Certificate) -> Binding:
    """Store a certificate that chains to an anchor (as of when it was issued); refuse any other.

    A signing certificate must carry the id its key hashes to (checked in `verify_path`);
    an agreement certificate must come from the issuer of that installation's signing
    certificate, so that no CA can slip its own key in as another's encryption key.
    """
    binding = build_path(cert, issued_at(cert))
    if binding.use == AGREEMENT:
        issuers = {
            x509.load_der_x509_certificate(bytes(row.der)).issuer
            for row in Certificate.select().where(
                (Certificate.installation == binding.installation) & (Certificate.use == SIGNING)
            )
        }
        if cert.issuer not in issuers:
            raise CertificateRefused("密钥协商证书必须由签发该安装签名证书的机构签发")
    upsert(
        Certificate,
        serial=format(cert.serial_number, "x"),
        fingerprint=fingerprint(cert),
        installation=binding.installation,
        station=binding.station,
        use=binding.use,
        der=cert.public_bytes(Encoding.DER),
        not_after=cert.not_valid_after_utc.replace(tzinfo=None),
    )
    return binding


def newest_binding(installation: str) -> Binding | None:
    row = (
        Certificate.select()
        .where(Certificate.installation == installation)
        .order_by(Certificate.not_after.desc())
        .first()
    )
    return binding_of(x509.load_der_x509_certificate(bytes(row.der))) if row else None


def trust_entity(kind: str, key: str) -> str:
    return f"trust:{kind}:{key}"


def publish_certificates(events, certs: dict[str, x509.Certificate]) -> None:
    """Certificates a hub issued, as trust events in its `all` stream, for everything below it."""
    for use, cert in certs.items():
        events.append(
            CERTIFIED,
            trust_entity("cert", format(cert.serial_number, "x")),
            {"certificate": cert.public_bytes(Encoding.PEM).decode("ascii"), "use": use},
            stream=TRUST_STREAM,
        )


def issuer_station(identity: Identity) -> str | None:
    """The hub whose CA certified this installation (its county); None before enrolment."""
    own = (
        Certificate.select()
        .where((Certificate.installation == identity.installation) & (Certificate.use == SIGNING))
        .order_by(Certificate.not_after.desc())
        .first()
    )
    if own is None:
        return None
    issuer = x509.load_der_x509_certificate(bytes(own.der)).issuer
    return next((binding_of(cert).station for cert in authorities() + anchors() if cert.subject == issuer), None)


def agreement_keys(stations: set[str], identity: Identity, levels: tuple[str, ...] = LEVELS) -> dict[str, object]:
    """The key-agreement keys of the stations' installations not revoked (and not this one), by installation;
    only of installations certified at one of `levels`."""
    rows = Certificate.select().where((Certificate.station.in_(stations)) & (Certificate.use == AGREEMENT))
    certs = ((row.installation, x509.load_der_x509_certificate(bytes(row.der))) for row in rows)
    return {
        installation: cert.public_key()
        for installation, cert in certs
        if installation != identity.installation
        and binding_of(cert).level in levels
        and not Revocation.select().where(Revocation.installation == installation).exists()
    }


def agreement_key(installation: str) -> ec.EllipticCurvePublicKey | None:
    """The key-agreement key certified for an installation (verified when its certificate was adopted)."""
    row = (
        Certificate.select()
        .where((Certificate.installation == installation) & (Certificate.use == AGREEMENT))
        .order_by(Certificate.not_after.desc())
        .first()
    )
    return x509.load_der_x509_certificate(bytes(row.der)).public_key() if row else None


def serving_installation(station: str) -> str | None:
    """The installation now serving a station: the newest certified one that is not revoked."""
    revoked = Revocation.select(Revocation.installation)
    row = (
        Certificate.select(Certificate.installation)
        .where(
            (Certificate.station == station) & (Certificate.use == SIGNING) & Certificate.installation.not_in(revoked)
        )
        .order_by(Certificate.not_after.desc())
        .first()
    )
    return row.installation if row else None


def issuer_recipients(identity: Identity) -> dict[str, object]:
    """The key-agreement keys of the hub that certified this installation (its county) and of its parent
    station (a village's township, which accepts and decides), by installation: residents' data keys
    are wrapped to them as well as to the station. Never the city's (DESIGN invariant 12): it oversees
    by figures, and a county hall's issuer and parent is the city, so a county keeps its residents' keys
    to itself. Empty before enrolment."""
    hub = issuer_station(identity)
    if hub is None:
        return {}
    stations = {hub} | ({identity.parent} if identity.parent else set())
    return agreement_keys(stations, identity, levels=HANDLING_LEVELS)


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
