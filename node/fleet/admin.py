"""What a county or city admin does to the fleet, and what an installation does to join it.

The CLI and the admin pages call these; the rules live in `provisioning/`."""

from __future__ import annotations

import dataclasses

from cryptography import x509

from node.context import Context
from node.link.restore import grant_keys
from node.seals.lifecycle import reissue_for
from provisioning import renewal
from provisioning.audit import audit
from provisioning.authority import manages
from provisioning.bundle import open_code, write_bundle
from provisioning.ca import promote_next_key, require_authority, rotate, rotate_root
from provisioning.certs import CA, fingerprint, to_pem, verify_path
from provisioning.errors import EnrolmentRefused, ProvisioningError
from provisioning.granting import grant_enrolment, hub_directory, trust_material
from provisioning.registration import (
    Registered,
    new_code_for,
    qr_text,
    register_station,
    replace_installation,
    usable_registration,
)
from provisioning.trust import ANCHOR, REVOKED, TRUST_STREAM, anchors, newest_binding
from provisioning.trust_events import publish_certificates, trust_entity
from storage.models import (
    EventRecord,
    Registration,
    Revocation,
    StreamHead,
)


def register(
    node: Context,
    *,
    name: str,
    level: str,
    region: str,
    parent: str | None = None,
    parent_url: str | None = None,
    hub_url: str,
    actor: str = "admin",
) -> Registered:
    return register_station(
        node.events,
        node.identity,
        require_authority(node.config.data_dir),
        name=name,
        level=level,
        region=region,
        parent=parent,
        parent_url=parent_url,
        hub_url=hub_url,
        now=node.now(),
        actor=actor,
    )


def directory(node: Context) -> dict:
    return hub_directory(node.identity, require_authority(node.config.data_dir))


def grant(node: Context, sealed_request: bytes) -> bytes:
    """Enrol an installation; a replacement PC also gets the keys to its station's applications back."""
    sealed = grant_enrolment(
        node.events, node.identity, node.keys, require_authority(node.config.data_dir), sealed_request, node.now()
    )
    with node.events.transaction():
        grant_keys(node.events, node.identity.installation, node.keys.agreement)
    node.events.sign_heads()
    return sealed


def trust_feed(node: Context) -> dict:
    return trust_material(node.events)


def grant_renewal(node: Context, sealed_request: bytes) -> bytes:
    return renewal.grant_renewal(
        node.events, node.keys, require_authority(node.config.data_dir), sealed_request, node.now()
    )


@dataclasses.dataclass(frozen=True)
class NewCode:
    station: str
    code: str
    qr_text: str
    seals: tuple[str, ...] = ()  # seals ordered again for the new PC (a replacement's)


def new_code(node: Context, station: str, hub_url: str, actor: str = "admin") -> NewCode:
    """A fresh enrolment code (and QR) for a registered station that has not enrolled yet."""
    code = new_code_for(node.events, station, node.now(), actor)
    return NewCode(station, code, qr_text(hub_url, code, require_authority(node.config.data_dir)))


def replace(node: Context, station: str, reason: str, hub_url: str, actor: str = "admin") -> NewCode:
    """A station's PC was lost, broken or restored: revoke its installation and its seals, order the seals
    again for the new PC, and give a code for it."""
    registration = Registration.get_or_none(Registration.station == station)
    if registration is None or registration.enrolled_installation is None:
        raise EnrolmentRefused(f"站点 {station} 没有已注册的安装可以更换")
    revoke(node, registration.enrolled_installation, reason, actor)
    seals = reissue_for(node, registration.enrolled_installation, reason, actor)
    code = replace_installation(node.events, station, node.now(), actor)
    return NewCode(station, code, qr_text(hub_url, code, require_authority(node.config.data_dir)), tuple(seals))


def bundle_for(node: Context, code: str, hub_url: str) -> bytes:
    return write_bundle(node.events, node.identity, node.keys, require_authority(node.config.data_dir), code, hub_url)


def bundle_on_request(node: Context, sealed_code: bytes, hub_url: str) -> bytes:
    """Online, for a station's setup page: the bundle for a code the station sealed to this hub, while the
    code can still enrol; refusals are audited like an enrolment's."""
    try:
        code = open_code(sealed_code, node.keys)
        registration = usable_registration(code, node.now())
        bundle = bundle_for(node, code, hub_url)
    except ProvisioningError as exc:
        with node.events.transaction():
            audit("enrolment", "bundle", None, "refused", str(exc))
        raise
    with node.events.transaction():
        audit("enrolment", "bundle", registration.station, "ok")
    return bundle


def revoke(node: Context, installation: str, reason: str, actor: str = "admin") -> dict[str, int]:
    """Revoke an installation: per stream, the county vouches for what it already holds, nothing after."""
    require_authority(node.config.data_dir)
    target = newest_binding(installation)
    if target is None or not manages(node.identity.level, node.identity.region, target.level, target.region):
        raise EnrolmentRefused(f"安装 {installation} 不在本枢纽辖区内，无权吊销")
    heads = list(StreamHead.select().where(StreamHead.origin == installation))
    held = {h.stream: h.seq for h in heads}
    payload = {
        "installation": installation,
        "last_seq": held,
        "last_chain": {h.stream: h.chain for h in heads},
        "reason": reason,
    }
    with node.events.transaction():
        node.events.append(REVOKED, trust_entity("revocation", installation), payload, stream=TRUST_STREAM)
        audit(actor, "revoke", installation, "ok", reason)
    node.events.sign_heads()
    return held


def release(node: Context, installation: str, stream: str, upto_seq: int, reason: str, actor: str = "admin") -> int:
    """Vouch for more of a revoked installation's work: honest events it queued offline before it was
    stolen, up to `upto_seq` of `stream`, as the county has them. A second revocation event with the
    higher seq travels like the first; every node then applies what it had quarantined up to there.
    Returns how many events this hub applied."""
    require_authority(node.config.data_dir)
    target = newest_binding(installation)
    if target is None or not manages(node.identity.level, node.identity.region, target.level, target.region):
        raise EnrolmentRefused(f"安装 {installation} 不在本枢纽辖区内，无权放行")
    rows = {r.stream: r for r in Revocation.select().where(Revocation.installation == installation)}
    if not rows:
        raise EnrolmentRefused(f"安装 {installation} 没有被吊销，它的事件无须放行")
    held = rows.get(stream) or rows["*"]
    if upto_seq <= held.last_seq:
        raise EnrolmentRefused(f"{stream} 流已担保至第 {held.last_seq} 号，无须放行")
    last = EventRecord.get_or_none(
        (EventRecord.origin == installation) & (EventRecord.stream == stream) & (EventRecord.seq == upto_seq)
    )
    if last is None:
        raise EnrolmentRefused(f"本枢纽没有安装 {installation} 在 {stream} 流的第 {upto_seq} 号事件：先同步再放行")
    vouched = {s: r for s, r in rows.items() if s != "*"}
    payload = {
        "installation": installation,
        "last_seq": {**{s: r.last_seq for s, r in vouched.items()}, stream: upto_seq},
        "last_chain": {**{s: r.last_chain for s, r in vouched.items() if r.last_chain}, stream: last.chain},
        "reason": f"放行：{reason}",
    }
    with node.events.transaction():
        node.events.append(REVOKED, trust_entity("revocation", installation), payload, stream=TRUST_STREAM)
        audit(actor, "release", installation, "ok", f"{stream} 至第 {upto_seq} 号：{reason}")
    node.events.sign_heads()
    return node.events.readmit_vouched()


def rotate_authority(node: Context, actor: str = "admin") -> x509.Certificate:
    """A new CA key vouched for by the old one; everything certified under the old key keeps verifying.

    A county's new key is certified by its old one; the city's new root comes with a
    cross certificate from the old root, and nodes add it to their anchors on receipt.
    """
    authority = require_authority(node.config.data_dir)
    with node.events.transaction():
        if node.identity.level == "city":
            cert, cross = rotate_root(node.config.data_dir, authority, node.now())
            payload = {"certificate": to_pem(cert), "cross": to_pem(cross)}
            node.events.append(ANCHOR, trust_entity("anchor", fingerprint(cert)), payload, stream=TRUST_STREAM)
        else:
            cert = rotate(node.config.data_dir, authority, node.now())
            verify_path([cert, authority.cert], anchors(), at=node.now())
            publish_certificates(node.events, {CA: cert})
        audit(actor, "rotate_ca", node.identity.station, "ok", fingerprint(cert))
    promote_next_key(node.config.data_dir)
    node.events.sign_heads()
    return cert
