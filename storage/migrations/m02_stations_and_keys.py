"""Migration 2: stations, installations, data keys, as released."""

from __future__ import annotations

import peewee as pw

from .frozen import Frozen, create


class Station(Frozen):
    code = pw.CharField(max_length=64, primary_key=True)
    name = pw.CharField(max_length=200)
    level = pw.CharField(max_length=16)
    region = pw.CharField(max_length=12)
    parent = pw.CharField(max_length=64, null=True)

    class Meta:
        table_name = "station"


class Installation(Frozen):
    id = pw.CharField(max_length=64, primary_key=True)
    station = pw.CharField(max_length=64, index=True)
    algorithm = pw.CharField(max_length=32)
    signing_key = pw.BlobField()
    agreement_key = pw.BlobField()
    created_hlc = pw.BigIntegerField()

    class Meta:
        table_name = "installation"


class DataKey(Frozen):
    entity = pw.CharField(max_length=128)
    recipient = pw.CharField(max_length=128)
    wrapped = pw.BlobField()

    class Meta:
        table_name = "data_key"
        primary_key = pw.CompositeKey("entity", "recipient")


def apply() -> None:
    create(Station, Installation, DataKey)
