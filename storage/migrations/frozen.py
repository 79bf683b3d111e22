"""What the migrations are written with: tables as a migration made them, and columns added if missing.

A migration declares the tables it creates as `Frozen` classes of its own, copied from the models as they
stood when it was released and never edited after: a later change to `storage.models` cannot reach it.
"""

from __future__ import annotations

import peewee as pw
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate as alter

from ..database import db


class Frozen(pw.Model):
    """A table as one migration made it. Its own class, never the live model; Python-side defaults are
    left out where the table's DDL does not carry them."""

    class Meta:
        database = db
        legacy_table_names = False


def create(*tables: type[Frozen]) -> None:
    db.create_tables(tables)


def add_missing_columns(table: str, columns: dict[str, pw.Field]) -> None:
    """Add these columns, those the table lacks: a database made before the migrations were frozen, by a
    program whose earlier migrations created tables from the live models, may have some already."""
    present = {column.name for column in db.get_columns(table)}
    migrator = SchemaMigrator.from_database(db.obj)
    alter(*(migrator.add_column(table, name, field) for name, field in columns.items() if name not in present))
