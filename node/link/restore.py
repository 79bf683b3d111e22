"""What a replaced PC gets back from its county: the keys to read its station's applications.

A station's new installation receives the station's events by sync like any other (its pull scope
is the station's streams), but the residents' fields in them are sealed under data keys wrapped to
the old installation, which is gone, and to the county. So when the county enrols a replacement it
unwraps each data key it holds for that station's applications and wraps it to the new installation,
in `datakey.granted` events in the station's stream: they travel down with the rest, and a copied
event reveals nothing, since each key is sealed to the new installation's agreement key.
"""

from __future__ import annotations

import base64

from node.cases.events import entity
from provisioning.trust import agreement_key
from storage.models import DataKey, EventRecord, Replacement, insert_row
from sync.event import Event
from sync.fields import unwrap_data_key, wrap_data_key
from sync.log import EventLog
from sync.projection import RuleViolation

GRANTED = "datakey.granted"
KEYS_PER_EVENT = 500  # an event stays well under a batch's byte bound


def grant_keys(events: EventLog, hub_installation: str, hub_agreement) -> int:
    """For every replacement enrolled here and not yet served, wrap to the new installation each data key
    this hub holds for the station's applications; the number of keys granted."""
    granted = EventRecord.select(EventRecord.entity).where(EventRecord.type == GRANTED)
    done = {name.split(":")[1] for (name,) in granted.tuples()}
    count = 0
    for replacement in Replacement.select().where(Replacement.installation.not_in(list(done) or [""])):
        recipient = agreement_key(replacement.installation)
        if recipient is not None:  # certified here: this hub enrolled it
            count += _grant(events, hub_installation, hub_agreement, replacement, recipient)
    return count


def _grant(events: EventLog, hub_installation: str, hub_agreement, replacement: Replacement, recipient) -> int:
    held = (
        DataKey.select(DataKey.entity, DataKey.wrapped)
        .where(
            (DataKey.recipient == hub_installation)
            & (DataKey.entity >= entity(f"{replacement.station}-"))
            & (DataKey.entity < entity(f"{replacement.station}-~"))
        )
        .order_by(DataKey.entity)
        .tuples()
    )
    keys = {
        name: base64.b64encode(
            wrap_data_key(unwrap_data_key(bytes(wrapped), hub_agreement, name), recipient, name)
        ).decode("ascii")
        for name, wrapped in held
    }
    names = sorted(keys)
    for part, start in enumerate(range(0, len(names), KEYS_PER_EVENT)):
        events.append(
            GRANTED,
            f"datakeys:{replacement.installation}:{part}",
            {
                "installation": replacement.installation,
                "keys": {n: keys[n] for n in names[start : start + KEYS_PER_EVENT]},
            },
            stream=replacement.station,
        )
    return len(keys)


class DataKeyGrantProjection:
    """Keeps the keys granted to this installation; other nodes store and relay the event only.

    `reset` removes nothing: the same table holds the keys this node kept for its own filings,
    which are in no event, and replaying a grant writes the same rows again."""

    event_types = frozenset({GRANTED})

    def __init__(self, installation: str):
        self.installation = installation

    def apply(self, event: Event) -> None:
        payload = event.payload
        if not event.entity.startswith(f"datakeys:{payload['installation']}:"):
            raise RuleViolation("数据密钥授予事件的实体与接收安装不符")
        if payload["installation"] != self.installation:
            return
        for name, wrapped in payload["keys"].items():
            if not name.startswith(entity(f"{event.stream}-")):
                raise RuleViolation(f"{name} 不是站点 {event.stream} 的办件")
            insert_row(
                DataKey,
                {"entity": name, "recipient": self.installation, "wrapped": base64.b64decode(wrapped)},
                replace_on=("entity", "recipient"),
            )

    def reset(self, entity_name: str | None) -> None:
        return None
