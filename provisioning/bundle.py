"""The provisioning bundle: a hub's trust data for one registered station, on a USB stick.

Not secret (certificates and trust streams are public) but authenticated by the
enrolment code: a MAC keyed with the code, so a bundle altered, truncated, or
opened with another station's code is refused before anything is written.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from provisioning.ca import Authority
from provisioning.certs import AGREEMENT
from provisioning.codes import code_hash, code_problem, normalise
from provisioning.enrolment import BUNDLE_CONTEXT, own_certificate
from provisioning.errors import BadCode, EnrolmentRefused
from provisioning.granting import trust_material
from provisioning.identity import Identity, Keys
from provisioning.registration import registration_fields
from storage.models import Registration
from sync import canonical, cipher
from sync.errors import CipherError
from sync.log import EventLog


def write_bundle(
    events: EventLog, hub: Identity, hub_keys: Keys, authority: Authority, code: str, hub_url: str
) -> bytes:
    """A provisioning bundle for the station a code was issued to, authenticated by that code."""
    registration = Registration.get_or_none(Registration.code_hash == code_hash(code))
    if registration is None:
        raise BadCode("注册码无效或已使用")
    body = canonical.encode(
        {
            "kind": "onetrip-provisioning-bundle",
            "registration": registration_fields(registration),
            "hub": {"url": hub_url, "agreement_certificate": own_certificate(hub, AGREEMENT)},
            **trust_material(events),
        }
    )
    return json.dumps({"bundle": body.decode("utf-8"), "mac": _mac(code, body)}, ensure_ascii=False).encode("utf-8")


def open_code(sealed: bytes, hub_keys: Keys) -> str:
    """The code an installation sealed to this hub to ask for its bundle online (`enrolment.seal_code`)."""
    try:
        code = cipher.open_sealed(hub_keys.agreement, sealed, context=BUNDLE_CONTEXT).decode("ascii")
    except (CipherError, UnicodeDecodeError) as exc:
        raise EnrolmentRefused("注册包请求无法解开：不是发给本枢纽的，或已被改动") from exc
    if problem := code_problem(code):
        raise BadCode(problem)
    return code


def read_bundle(data: bytes, code: str) -> dict:
    """Open a bundle: a mistyped code, a truncated or altered file are refused before anything is written."""
    if problem := code_problem(code):
        raise BadCode(problem)
    try:
        wrapper = json.loads(data.decode("utf-8"))
        body = wrapper["bundle"].encode("utf-8")
        mac = wrapper["mac"]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise EnrolmentRefused("注册包已损坏或被截断") from exc
    if not hmac.compare_digest(mac, _mac(code, body)):
        raise EnrolmentRefused("注册包与注册码不符：文件被改动，或注册码不是这个站点的")
    return canonical.decode(body)


def _mac(code: str, body: bytes) -> str:
    return hmac.new(normalise(code).encode(), hashlib.sha256(body).digest(), hashlib.sha256).hexdigest()
