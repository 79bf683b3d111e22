"""Seal events as rows: a county's issue and revocation records, verified against its jurisdiction, and each
use a station reports; and the county's countersignature, which fixes when it first held a use.
"""

from __future__ import annotations

import datetime as dt

from cryptography.hazmat.primitives.serialization import Encoding

from node.context import Context
from node.seals.lifecycle import SEAL_ISSUED, SEAL_RECEIVED, SEAL_REVOKED, SEAL_USED, seal_attributes, seal_entity
from node.seals.records import RECORD_DOMAIN, SealRecord, SealRefused
from provisioning.authority import manages
from provisioning.certs import (
    SEAL,
    fingerprint,
    from_pem,
    issued_at,
)
from provisioning.errors import CertificateRefused
from provisioning.trust import build_path, chain_of
from storage.models import Seal, SealUse, Station, upsert
from sync.errors import SignatureError
from sync.event import Event
from sync.hlc import unpack
from sync.keys import ECDSA_P256, VerifyingKey
from sync.projection import RuleViolation


def countersign(node: Context) -> int:
    """At a county: sign, for each use of a seal it manages that it holds and has not yet signed for,
    the time it received it, so that "sealed before the revocation" does not rest on the station's clock."""
    hub = node.identity
    waiting = (
        SealUse.select(SealUse, Seal.station)
        .join(Seal, on=(Seal.seal_id == SealUse.seal_id))
        .where(SealUse.received_at.is_null())
        .objects()
    )
    signed = 0
    with node.events.transaction():
        for use in waiting:
            station = Station.get_or_none(Station.code == use.station)
            if station is None or not manages(hub.level, hub.region, station.level, station.region):
                continue
            node.events.append(
                SEAL_RECEIVED, f"seal-use:{use.use_id}", {"use": use.use_id, "eid": use.eid}, stream=use.station
            )
            signed += 1
    return signed


def _wall(event: Event) -> dt.datetime:
    return dt.datetime.fromtimestamp(unpack(event.hlc)[0] / 1000, dt.UTC).replace(tzinfo=None)


class SealProjection:
    """Seals as the county published them, each checked as a trust event is; and every use."""

    event_types = frozenset({SEAL_ISSUED, SEAL_REVOKED, SEAL_USED, SEAL_RECEIVED})

    def __init__(self, trust):
        self.trust = trust  # a CertTrust: only a hub above the holder may issue or revoke its seals

    def apply(self, event: Event) -> None:
        payload = event.payload
        if event.type == SEAL_ISSUED:
            self._issued(event, payload)
            return
        if event.type == SEAL_RECEIVED:
            self._received(event, payload)
            return
        seal = Seal.get_or_none(Seal.seal_id == payload["seal"])
        if seal is None:
            raise RuleViolation(f"不认识印章 {payload['seal']}")
        if event.type == SEAL_REVOKED:
            station = Station.get_or_none(Station.code == seal.station)
            if station is None:
                raise RuleViolation(f"不认识印章 {seal.seal_id} 的持章站点")
            self.trust.require_jurisdiction(event.origin, station.level, station.region)
            Seal.update(revoked_at=_wall(event), revoke_reason=payload["reason"]).where(
                Seal.seal_id == seal.seal_id
            ).execute()
            return
        if event.origin != seal.installation:  # used after revocation stays in the log, and verification says so
            raise RuleViolation(f"印章 {seal.seal_id} 只能由持章的安装使用")
        held = SealUse.get_or_none(SealUse.use_id == payload["use"])
        if event.entity != f"seal-use:{payload['use']}" or (held is not None and held.eid != event.eid):
            raise RuleViolation(f"用印编号 {payload['use']} 已属于另一次用印")  # a use is its holder's, once
        upsert(
            SealUse,
            use_id=payload["use"],
            seal_id=seal.seal_id,
            digest=payload["digest"],
            number=payload["number"],
            document=payload["document"],
            operator=payload["operator"],
            installation=event.origin,
            used_at=dt.datetime.fromtimestamp(payload["at_ms"] / 1000, dt.UTC).replace(tzinfo=None),
            eid=event.eid,
        )

    def _received(self, event: Event, payload: dict) -> None:
        """The earliest countersignature stands: it is what proves a use came before a revocation."""
        use = SealUse.get_or_none(SealUse.use_id == payload["use"])
        if use is None or event.entity != f"seal-use:{use.use_id}" or payload["eid"] != use.eid:
            raise RuleViolation("县级的用印回执与用印记录不符")
        seal = Seal.get_by_id(use.seal_id)
        station = Station.get_or_none(Station.code == seal.station)
        self.trust.require_jurisdiction(event.origin, station.level, station.region)
        received = _wall(event)
        if use.received_at is None or received < use.received_at:
            SealUse.update(received_at=received, received_by=self.trust.binding(event.origin).station).where(
                SealUse.use_id == use.use_id
            ).execute()

    def _issued(self, event: Event, payload: dict) -> None:
        try:
            cert = from_pem(payload["certificate"])
            binding = build_path(cert, issued_at(cert))
            attributes = seal_attributes(cert)
            raw = payload["record"].encode("utf-8")
            record = SealRecord.decode(raw)
        except (CertificateRefused, SealRefused) as exc:
            raise RuleViolation(f"印章不可信：{exc}") from exc
        if binding.use != SEAL or record.holder_installation != binding.installation:
            raise RuleViolation("印章证书与印章记录的持章安装不符")
        if fingerprint(cert) not in record.signers or attributes.get("seal") != record.seal_id:
            raise RuleViolation("印章记录没有列出签发给它的证书")
        if event.entity != seal_entity(record.seal_id):
            raise RuleViolation("印章事件的对象与印章编号不符")
        self.trust.require_jurisdiction(event.origin, binding.level, binding.region)
        maker = chain_of(cert)
        try:
            VerifyingKey(ECDSA_P256, maker[0].public_key()).verify(
                bytes.fromhex(payload["maker_signature"]), RECORD_DOMAIN + raw
            )
        except (IndexError, ValueError, SignatureError) as exc:
            raise RuleViolation("印章记录上制章机构的签名无效") from exc
        upsert(
            Seal,
            seal_id=record.seal_id,
            kind=record.kind,
            name=record.name,
            owner=record.owner,
            credit_code=record.credit_code,
            station=record.holder_station,
            installation=record.holder_installation,
            record=raw,
            maker_signature=payload["maker_signature"],
            certificate=cert.public_bytes(Encoding.DER),
            valid_from=issued_at(cert).replace(tzinfo=None),
            valid_to=cert.not_valid_after_utc.replace(tzinfo=None),
            issued_eid=event.eid,
            revoked_at=None,
            revoke_reason=None,
        )

    def reset(self, entity: str | None) -> None:
        if entity is None:
            Seal.delete().execute()
            SealUse.delete().execute()
        elif entity.startswith("seal:"):
            Seal.delete().where(Seal.seal_id == entity.removeprefix("seal:")).execute()
        elif entity.startswith("seal-use:"):
            SealUse.delete().where(SealUse.use_id == entity.removeprefix("seal-use:")).execute()
