"""Stations and installations as this node knows them: a projection of their events."""

from __future__ import annotations

from storage.models import Installation, Station, upsert
from sync.event import Event

STATION_CREATED = "station.created"
INSTALLATION_CREATED = "installation.created"


def station_entity(code: str) -> str:
    return f"station:{code}"


def installation_entity(installation: str) -> str:
    return f"installation:{installation}"


class StationProjection:
    event_types = frozenset({STATION_CREATED, INSTALLATION_CREATED})

    def apply(self, event: Event) -> None:
        payload = event.payload
        if event.type == STATION_CREATED:
            upsert(
                Station,
                code=payload["code"],
                name=payload["name"],
                level=payload["level"],
                region=payload["region"],
                parent=payload.get("parent"),
            )
        else:
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
