"""Whose key-agreement keys a resident's data key is wrapped to: this station's issuer (the county that
certified it), the installations serving the stations that handle a case, read from certified rows.
"""

from __future__ import annotations

from cryptography import x509

from provisioning.certs import (
    AGREEMENT,
    SIGNING,
    binding_of,
)
from provisioning.identity import Identity
from provisioning.region import HANDLING_LEVELS, LEVELS
from provisioning.trust import anchors, authorities
from storage.models import Certificate, Revocation


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


def county_recipients(county: str, identity: Identity) -> dict[str, object]:
    """The key-agreement keys of a county hub's installations, by its division code: a 跨区域通办 case's data
    key is wrapped to them alone (and kept by the filing station), not to the filing station's own township
    or county, which do not handle it, and never to the city."""
    hub = Certificate.select(Certificate.station).where(Certificate.station.startswith(county + "-")).distinct()
    return agreement_keys(set(hub.scalars()), identity, levels=("county",))


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
