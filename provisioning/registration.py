"""Registering a station at its hub: its code, its one-time enrolment code, its first admin.

Every action is audited, refusals included, so the county can see who tried what.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from provisioning.audit import audit
from provisioning.ca import Authority
from provisioning.certs import fingerprint
from provisioning.codes import code_hash, new_code
from provisioning.errors import BadCode, EnrolmentRefused
from provisioning.identity import Identity, identity_problems
from provisioning.operators import first_admin_name, hash_password, new_password
from provisioning.region import LEVELS, contains
from provisioning.trust import REGISTERED, TRUST_STREAM
from provisioning.trust_events import trust_entity
from storage.models import Registration
from sync.log import EventLog

CODE_TTL = dt.timedelta(hours=72)


@dataclass(frozen=True)
class Registered:
    station: str
    code: str
    expires_at: dt.datetime
    qr_text: str
    admin_username: str
    admin_password: str  # shown once to the county admin, to hand over with the code


def naive_utc(at: dt.datetime) -> dt.datetime:
    return at.astimezone(dt.UTC).replace(tzinfo=None)


def register_station(
    events: EventLog,
    hub: Identity,
    authority: Authority,
    *,
    name: str,
    level: str,
    region: str,
    parent: str | None,
    parent_url: str | None,
    hub_url: str,
    now: dt.datetime,
    actor: str = "admin",
) -> Registered:
    problems = identity_problems(level, name, region, "ecdsa-p256-sha256")
    if level in LEVELS and LEVELS.index(level) >= LEVELS.index(hub.level):
        problems.append(f"{hub.name}只能登记比自己低的层级")
    if hub.level == "city" and level != "county":
        problems.append("市级节点只登记县级枢纽；乡镇和村由县级登记")
    if not problems and not contains(hub.region, region):
        problems.append(f"区划 {region} 不在本辖区（{hub.region}）内")
    if problems:
        with events.transaction():
            audit(actor, "register", region, "refused", "；".join(problems))
        raise EnrolmentRefused("；".join(problems), problems)
    code, password = new_code(), new_password()
    with events.transaction():
        station = f"{region}-{Registration.select().where(Registration.region == region).count() + 1:02d}"
        Registration.create(
            first_admin_hash=hash_password(password),
            station=station,
            name=name.strip(),
            level=level,
            region=region,
            parent=parent or hub.station,
            parent_url=parent_url,
            code_hash=code_hash(code),
            code_expires_at=naive_utc(now + CODE_TTL),
        )
        events.append(
            REGISTERED,
            trust_entity("station", station),
            {
                "station": station,
                "name": name.strip(),
                "level": level,
                "region": region,
                "parent": parent or hub.station,
            },
            stream=TRUST_STREAM,
        )
        audit(actor, "register", station, "ok", f"{name} {level} {region}")
    qr = qr_text(hub_url, code, authority)
    return Registered(station, code, now + CODE_TTL, qr, first_admin_name(station), password)


def qr_text(hub_url: str, code: str, authority: Authority) -> str:
    """What the QR code says: where to enrol, the code, and the fingerprint that unmasks a rogue hub."""
    return f"onetrip:enrol?hub={hub_url}&code={code}&fp={fingerprint(authority.cert)}"


def new_code_for(events: EventLog, station: str, now: dt.datetime, actor: str = "admin") -> str:
    """A fresh code for a station not yet enrolled (the old one stops working): lost, expired or mistyped."""
    registration = Registration.get_or_none(Registration.station == station)
    if registration is not None and registration.enrolled_installation:
        raise EnrolmentRefused(f"站点 {station} 已注册；电脑更换请用“更换电脑”")
    code = new_code()
    with events.transaction():
        updated = (
            Registration.update(code_hash=code_hash(code), code_expires_at=naive_utc(now + CODE_TTL))
            .where(Registration.station == station)
            .execute()
        )
        if not updated:
            raise EnrolmentRefused(f"没有登记过站点 {station}")
        audit(actor, "new_code", station, "ok")
    return code


def replace_installation(events: EventLog, station: str, now: dt.datetime, actor: str = "admin") -> str:
    """A station's PC is replaced or restored: a fresh code for its new installation, which the next
    enrolment links to the old one. The caller revokes the old installation first."""
    registration = Registration.get_or_none(Registration.station == station)
    if registration is None or registration.enrolled_installation is None:
        raise EnrolmentRefused(f"站点 {station} 没有已注册的安装可以更换")
    code = new_code()
    with events.transaction():
        Registration.update(
            previous_installation=registration.enrolled_installation,
            enrolled_installation=None,
            code_hash=code_hash(code),
            code_expires_at=naive_utc(now + CODE_TTL),
        ).where(Registration.station == station).execute()
        audit(actor, "replace", station, "ok", registration.enrolled_installation)
    return code


def usable_registration(code: str, now: dt.datetime) -> Registration:
    """The registration a code was issued for, while the code can still enrol a station."""
    registration = Registration.get_or_none(Registration.code_hash == code_hash(code))
    if registration is None:
        raise BadCode("注册码无效：不是本枢纽签发的注册码，或已被更换")
    if registration.enrolled_installation:
        raise BadCode(f"注册码已使用：站点 {registration.station} 已完成注册")
    if naive_utc(now) > registration.code_expires_at:
        raise BadCode("注册码已过期：请管理员重新生成")
    return registration


def registration_fields(registration: Registration) -> dict:
    """What a station learns of its own registration, in a grant or a bundle."""
    return {
        "station": registration.station,
        "name": registration.name,
        "level": registration.level,
        "region": registration.region,
        "parent": registration.parent,
        "parent_url": registration.parent_url,
        "first_admin_hash": registration.first_admin_hash,
    }
