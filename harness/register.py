"""A projection for testing the engine: each entity's applied values, in the order applied.

Order-sensitive on purpose, so that a replay in a different order shows. A value
`"bad"` writes a row and then refuses the event, to prove refused events leave
no rows behind.
"""

from __future__ import annotations

import peewee as pw

from storage.database import db
from storage.models import BaseModel
from sync.event import Event
from sync.projection import RuleViolation

WRITE = "reg.write"


class RegisterRow(BaseModel):
    entity = pw.CharField(max_length=128)
    position = pw.IntegerField()
    value = pw.TextField()

    class Meta:
        table_name = "test_register"
        indexes = ((("entity", "position"), True),)


def create_register_table() -> None:
    db.create_tables([RegisterRow])


def state() -> dict[str, list[str]]:
    rows = RegisterRow.select().order_by(RegisterRow.entity, RegisterRow.position)
    result: dict[str, list[str]] = {}
    for row in rows:
        result.setdefault(row.entity, []).append(row.value)
    return result


class RegisterProjection:
    event_types = frozenset({WRITE})

    def apply(self, event: Event) -> None:
        value = event.payload["value"]
        position = RegisterRow.select().where(RegisterRow.entity == event.entity).count()
        RegisterRow.create(entity=event.entity, position=position, value=value)
        if value == "bad":
            raise RuleViolation("值 bad 不允许")

    def reset(self, entity: str | None) -> None:
        query = RegisterRow.delete()
        if entity is not None:
            query = query.where(RegisterRow.entity == entity)
        query.execute()
