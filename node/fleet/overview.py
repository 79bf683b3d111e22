"""The fleet page's rows: every installation a hub knows, with its certificate, revocation, last contact and
clock, paginated; shared by the page and `onetrip fleet`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import peewee as pw

from node.context import Context
from node.link import health
from node.releases.choice import version_key
from provisioning.authority import manages
from provisioning.certs import SIGNING
from provisioning.region import area_prefix, contains
from storage.models import (
    Certificate,
    Contact,
    Revocation,
    Station,
)


@dataclasses.dataclass(frozen=True)
class FleetRow:
    station: str
    name: str
    level: str
    region: str
    parent: str | None
    installation: str | None
    certificate_expires: dt.date | None
    status: str  # 未注册 | 已吊销 | 证书将到期 | 本机 | 上级 | 未联系 | 正常 | 滞后 (an hour) | 离线 (a day)
    managed: bool  # this hub may revoke or replace it
    # What the station last reported (itself or through its relay); None until it has.
    last_contact: str | None = None  # UTC
    pending_events: int | None = None
    oldest_unsent_s: int | None = None
    clock_offset_s: int | None = None
    clock_offset: str | None = None  # in words: 快 3 天, 慢 12 分钟
    version: str | None = None
    update_state: str | None = None  # its release update, in words (node/releases/client.update_words)


EXPIRY_WARNING = dt.timedelta(days=30)


def is_hub(node: Context) -> bool:
    return node.identity.level in ("county", "city")


def overview(node: Context, *, page: int, per_page: int) -> tuple[list[FleetRow], int]:
    """Every registered station this node knows, with its installations' certificates, what it last
    reported, and a status (an installation's own code from before registration is not a fleet station). Only
    this hub's line: the stations of its area and the hubs above it, never a sibling county the city's trust
    stream made known here."""
    hub = node.identity
    registered = pw.fn.LENGTH(Station.code) != pw.fn.LENGTH(Station.region) + 7  # "<region>-NN", not "-<hex6>"
    stations = Station.select().where(registered & _in_line(hub.region)).order_by(Station.code)
    rows = []
    now = node.now().replace(tzinfo=None)
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
            row = _fleet_row(fields, station.parent, cert, installation in revoked, managed, contact, now, drift_s)
            rows.append(_as_seen_from(row, hub))
    return rows, stations.count()


def _in_line(region: str) -> pw.Expression:
    """This hub's area and the hubs above it."""
    hubs = Station.select(Station.code, Station.region).where(Station.level.in_(("county", "city")))
    above = [code for code, other in hubs.tuples() if other != region and contains(other, region)]
    return Station.code.startswith(area_prefix(region)) | Station.code.in_(above)


def _as_seen_from(row: FleetRow, hub) -> FleetRow:
    """This hub's own installation and its parent report to nobody here: they are not "未联系"."""
    if row.status not in ("未联系", "正常", "滞后", "离线"):
        return row  # revoked or expiring says more
    if row.installation == hub.installation:
        return dataclasses.replace(row, status="本机")
    if row.station == hub.parent:
        return dataclasses.replace(row, status="上级")
    return row


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
        update_state=heard and heard.update_state,
    )


def version_shares(node: Context) -> list[tuple[str, int, float]]:
    """The share of the stations below on each version they last reported: (version, stations, percent),
    newest first; stations not heard from yet are not counted."""
    counts = (
        Contact.select(Contact.version, pw.fn.COUNT(Contact.station))
        .where(Contact.version.is_null(False))
        .group_by(Contact.version)
        .tuples()
    )
    total = sum(count for _, count in counts)
    shares = [(version, count, 100 * count / total) for version, count in counts]
    return sorted(shares, key=lambda share: version_key(share[0]), reverse=True)
