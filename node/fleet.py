"""What a county or city admin does to the fleet, and what an installation does to join it.

The CLI and the admin pages call these; the rules live in `provisioning/`.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt

import peewee as pw
from cryptography import x509

from node.context import Context
from node.link import health
from node.link.restore import grant_keys
from node.seals.lifecycle import reissue_for
from provisioning import client, enrolment, renewal
from provisioning.audit import audit
from provisioning.authority import manages
from provisioning.bundle import read_bundle, write_bundle
from provisioning.ca import load_ca_key, promote_next_key, require_authority, rotate, rotate_root
from provisioning.certs import CA, SIGNING, agreement_key_of, fingerprint, from_pem, to_pem, verify_path
from provisioning.codes import code_problem
from provisioning.enrolment import (
    check_directory,
    check_own_certificates,
    grant_enrolment,
    hub_directory,
    install_trust,
    make_request,
    open_grant,
    seal_request,
    trust_material,
)
from provisioning.errors import BadCode, EnrolmentRefused
from provisioning.identity import Identity, replace_lookup_key, save_identity
from provisioning.operators import create_operator, first_admin_name
from provisioning.registration import Registered, new_code_for, qr_text, register_station, replace_installation
from provisioning.trust import (
    ANCHOR,
    REVOKED,
    TRUST_STREAM,
    anchors,
    newest_binding,
    publish_certificates,
    trust_entity,
)
from storage.models import (
    Certificate,
    Contact,
    EventRecord,
    Operator,
    Registration,
    Revocation,
    Station,
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


def _request(node: Context, code: str, hub_agreement_pem: str) -> bytes:
    request = make_request(node.identity, node.keys, code, load_ca_key(node.config.data_dir))
    return seal_request(request, agreement_key_of(from_pem(hub_agreement_pem)))


def enrol_online(node: Context, hub_url: str, code: str, expected_fingerprint: str | None = None) -> Identity:
    """Keys stay here: only certificate requests, sealed to the hub, cross the wire."""
    if problem := code_problem(code):  # a typo is caught before any request
        raise BadCode(problem)
    if node.identity.provisional is False and node.identity.level != "city":
        raise EnrolmentRefused(f"本机已注册为站点 {node.identity.station}")
    found = client.fetch_directory(hub_url)
    issuer = check_directory(found, expected_fingerprint, node.now())
    sealed_grant = client.post_request(hub_url, _request(node, code, found["agreement_certificate"]))
    return install_grant(node, sealed_grant, issuer=issuer, hub_url=hub_url)


def enrol_from_bundle(node: Context, bundle: bytes, code: str) -> bytes:
    """Adopt the bundle's trust data now; return the sealed request to carry back to the hub."""
    contents = read_bundle(bundle, code)
    registration = contents["registration"]
    if (registration["level"], registration["region"]) != (node.identity.level, node.identity.region):
        raise EnrolmentRefused(
            f"注册包是给 {registration['name']}（{registration['level']} {registration['region']}）的，与本机不符"
        )
    install_trust(node.events, contents)
    hub_url = contents["hub"]["url"]
    _become(node, registration["station"], registration["parent"], registration.get("parent_url") or hub_url, hub_url)
    _ensure_first_admin(node, registration.get("first_admin_hash"))  # in the station's own stream, once it is ours
    return _request(node, code, contents["hub"]["agreement_certificate"])


def install_grant(
    node: Context, sealed_grant: bytes, *, issuer: tuple | None = None, hub_url: str | None = None
) -> Identity:
    grant_body = open_grant(sealed_grant, node.keys)
    check_own_certificates(grant_body, node.identity, node.keys, node.now(), issuer)
    install_trust(node.events, grant_body)
    if "lookup_key" in grant_body:
        lookup = base64.b64decode(grant_body["lookup_key"])
        replace_lookup_key(node.config.data_dir, lookup)
        node.keys = dataclasses.replace(node.keys, lookup=lookup)
    identity = _become(
        node,
        grant_body["station"],
        grant_body["parent"],
        grant_body.get("parent_url") or hub_url or node.identity.parent_url,  # a bundle named it already
        hub_url or node.identity.issuer_url,
    )
    _ensure_first_admin(node, grant_body.get("first_admin_hash"))
    return identity


def _ensure_first_admin(node: Context, password_hash: str | None) -> None:
    """The account the county set up at registration; its password must be changed at first login."""
    station = node.identity.station
    username = first_admin_name(station)
    if password_hash and not Operator.get_or_none(Operator.username == username):
        create_operator(
            node.events,
            station,
            username=username,
            name="站点管理员",
            role="admin",
            password_hash=password_hash,
            must_change=True,
            actor="registration",
        )


def _become(
    node: Context, station: str, parent: str | None, parent_url: str | None, issuer_url: str | None
) -> Identity:
    identity = dataclasses.replace(
        node.identity, station=station, provisional=False, parent=parent, parent_url=parent_url, issuer_url=issuer_url
    )
    save_identity(node.config.data_dir, identity)
    node.identity = node.events.trust.identity = identity
    return identity


def refresh_trust(node: Context, hub_url: str | None = None) -> None:
    """Fetch the parent's trust feed (anchors, certificates, trust streams) and adopt what verifies.

    Certificates and revocations are public, like a CRL; every item is checked against
    the anchors this node already holds, and the streams against their signed heads.
    """
    url = hub_url or node.identity.parent_url
    if not url:
        raise EnrolmentRefused("本机还没有上级网址：请先注册，或用 --hub 指定")
    enrolment.refresh_trust(node.events, url)


def trust_feed(node: Context) -> dict:
    return trust_material(node.events)


def grant_renewal(node: Context, sealed_request: bytes) -> bytes:
    return renewal.grant_renewal(
        node.events, node.keys, require_authority(node.config.data_dir), sealed_request, node.now()
    )


def renew(node: Context, hub_url: str | None = None):
    return renewal.renew_online(node.events, node.identity, node.keys, node.now(), hub_url)


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


@dataclasses.dataclass(frozen=True)
class FleetRow:
    station: str
    name: str
    level: str
    region: str
    parent: str | None
    installation: str | None
    certificate_expires: dt.date | None
    status: str  # 未注册 | 已吊销 | 证书将到期 | 未联系 | 正常 | 滞后 (an hour) | 离线 (a day)
    managed: bool  # this hub may revoke or replace it
    # What the station last reported (itself or through its relay); None until it has.
    last_contact: str | None = None  # UTC
    pending_events: int | None = None
    oldest_unsent_s: int | None = None
    clock_offset_s: int | None = None
    clock_offset: str | None = None  # in words: 快 3 天, 慢 12 分钟
    version: str | None = None


EXPIRY_WARNING = dt.timedelta(days=30)


def is_hub(node: Context) -> bool:
    return node.identity.level in ("county", "city")


def overview(node: Context, *, page: int, per_page: int) -> tuple[list[FleetRow], int]:
    """Every registered station this node knows, with its installations' certificates, what it last
    reported, and a status (an installation's own code from before registration is not a fleet station)."""
    registered = pw.fn.LENGTH(Station.code) != pw.fn.LENGTH(Station.region) + 7  # "<region>-NN", not "-<hex6>"
    stations = Station.select().where(registered).order_by(Station.code)
    rows = []
    now = node.now().replace(tzinfo=None)
    hub = node.identity
    revoked = {r for (r,) in Revocation.select(Revocation.installation).tuples()}
    drift_s = node.config.max_clock_drift_s
    for station in stations.paginate(page, per_page):
        managed = manages(hub.level, hub.region, station.level, station.region)
        contact = Contact.get_or_none(Contact.station == station.code)
        certs = (
            Certificate.select()
            .where((Certificate.station == station.code) & (Certificate.use == SIGNING))
            .order_by(Certificate.not_after.desc())
        )
        newest = {}
        for cert in certs:
            newest.setdefault(cert.installation, cert)
        fields = dict(station=station.code, name=station.name, level=station.level, region=station.region)
        if not newest:
            rows.append(
                FleetRow(
                    **fields,
                    parent=station.parent,
                    installation=None,
                    certificate_expires=None,
                    status="未注册",
                    managed=managed,
                )
            )
        for installation, cert in newest.items():
            rows.append(
                _fleet_row(fields, station.parent, cert, installation in revoked, managed, contact, now, drift_s)
            )
    return rows, stations.count()


def _fleet_row(fields, parent, cert, revoked, managed, contact, now, drift_s) -> FleetRow:
    """One installation's line: what it last reported counts only if it was this installation."""
    if revoked:
        status = "已吊销"
    elif cert.not_after - now < EXPIRY_WARNING:
        status = "证书将到期"
    else:
        status = health.state(contact, now, drift_s)
    heard = contact if contact is not None and contact.installation == cert.installation else None
    offset_ms = heard.clock_offset_ms if heard else None
    return FleetRow(
        **fields,
        parent=parent,
        installation=cert.installation,
        certificate_expires=cert.not_after.date(),
        status=status,
        managed=managed,
        last_contact=heard and f"{heard.at:%Y-%m-%d %H:%M}" + (f"（经 {heard.via}）" if heard.via else ""),
        pending_events=heard and heard.pending_events,
        oldest_unsent_s=heard and heard.oldest_unsent_s,
        clock_offset_s=None if offset_ms is None else round(offset_ms / 1000),
        clock_offset=None if offset_ms is None else health.offset_words(offset_ms),
        version=heard and heard.version,
    )
