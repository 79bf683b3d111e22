"""Stations and installations as this node knows them: a projection of their events.

Each is declared by the installation itself at its first start, so each speaks only for itself
(invariant 11): its own station, in that station's stream, at the level and in the division its
certificate gives; and its own installation. A stolen PC cannot re-declare another station.
"""

from __future__ import annotations

from storage.models import Installation, Station, upsert
from sync.event import Event
from sync.projection import RuleViolation

STATION_CREATED = "station.created"
INSTALLATION_CREATED = "installation.created"


def station_entity(code: str) -> str:
    return f"station:{code}"


def installation_entity(installation: str) -> str:
    return f"installation:{installation}"


class StationProjection:
    event_types = frozenset({STATION_CREATED, INSTALLATION_CREATED})

    def __init__(self, trust):
        self.trust = trust  # a CertTrust: who the signer is certified to be

    def apply(self, event: Event) -> None:
        payload = event.payload
        author = self.trust.binding(event.origin)
        if event.type == STATION_CREATED:
            declared = (payload["code"], payload["level"], payload["region"], event.entity)
            if author is None or declared != (event.stream, author.level, author.region, station_entity(event.stream)):
                raise RuleViolation("安装只能声明它自己的站点（本站点事件流、证书上的层级和区划）")
            upsert(
                Station,
                code=payload["code"],
                name=payload["name"],
                level=payload["level"],
                region=payload["region"],
                parent=payload.get("parent"),
            )
        else:
            own = (payload["installation"], payload["station"], event.entity)
            if own != (event.origin, event.stream, installation_entity(event.origin)):
                raise RuleViolation("安装只能声明它自己（本站点事件流中）")
            upsert(
                Installation,
                id=payload["installation"],
                station=payload["station"],
                algorithm=payload["algorithm"],
                signing_key=bytes.fromhex(payload["signing_key"]),
                agreement_key=bytes.fromhex(payload["agreement_key"]),
                created_hlc=event.hlc,
            )

    def reset(self, entity: str | None) -> None:
        if entity is None:
            Station.delete().execute()
            Installation.delete().execute()
        elif entity.startswith("station:"):
            Station.delete().where(Station.code == entity.removeprefix("station:")).execute()
        elif entity.startswith("installation:"):
            Installation.delete().where(Installation.id == entity.removeprefix("installation:")).execute()
