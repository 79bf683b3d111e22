"""What an installation does to join the fleet and stay in it: enrol online or from a USB bundle, install
the county's grant (becoming the registered station, its first admin account made), refresh its trust
material and renew its certificate.
"""

from __future__ import annotations

import base64
import dataclasses
from urllib.parse import parse_qs, urlparse

from node.context import Context
from provisioning import client, enrolment, renewal
from provisioning.bundle import read_bundle
from provisioning.ca import load_ca_key
from provisioning.certs import agreement_key_of, from_pem
from provisioning.codes import code_problem
from provisioning.enrolment import (
    check_directory,
    check_own_certificates,
    install_trust,
    make_request,
    open_grant,
    seal_request,
)
from provisioning.errors import BadCode, EnrolmentRefused
from provisioning.identity import Identity, replace_lookup_key, save_identity
from provisioning.operators import create_operator, first_admin_name
from storage.models import (
    Operator,
)


def parse_qr(text: str) -> tuple[str, str, str]:
    """The QR code's text, `onetrip:enrol?hub=URL&code=CODE&fp=FINGERPRINT`, as (hub, code, fingerprint)."""
    parsed = urlparse(text.strip())
    fields = {k: v[0] for k, v in parse_qs(parsed.query).items()}
    if parsed.scheme != "onetrip" or not {"hub", "code", "fp"} <= fields.keys():
        raise EnrolmentRefused("二维码内容不是 OneTrip 注册码")
    return fields["hub"], fields["code"], fields["fp"]


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


def renew(node: Context, hub_url: str | None = None):
    return renewal.renew_online(node.events, node.identity, node.keys, node.now(), hub_url)
