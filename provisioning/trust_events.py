"""Trust data as events in a hub's `all` stream (certified, revoked, replaced, anchor): each verified before
it changes a row, an author without jurisdiction over the station it names quarantined; and certificates
adopted into rows and published as events.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from provisioning.certs import (
    AGREEMENT,
    SIGNING,
    Binding,
    fingerprint,
    from_pem,
    issued_at,
    verify_path,
)
from provisioning.errors import CertificateRefused
from provisioning.trust import (
    ANCHOR,
    CERTIFIED,
    REGISTERED,
    REPLACED,
    REVOKED,
    TRUST_STREAM,
    CertTrust,
    anchors,
    build_path,
    newest_binding,
)
from storage.models import Certificate, Replacement, Revocation, Station, TrustAnchor, upsert
from sync.event import Event
from sync.log import FEED_RENEWED
from sync.projection import RuleViolation


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
