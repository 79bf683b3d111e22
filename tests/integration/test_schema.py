"""A database built by the migrations from zero is the database the live models describe, on SQLite and
PostgreSQL: tables, columns (type, nullability, default), primary keys, foreign keys, indexes (unique,
partial). The migrations carry their own frozen tables, so only this test ties them to the models."""

from __future__ import annotations

import ast
import difflib
import inspect
import re
from pathlib import Path

import pytest

import storage.migrations
import storage.models
from storage.database import bind, db, is_postgres, open_database, sqlite_url
from storage.migrations import migrate


def _live_models() -> list:
    models = (getattr(storage.models, name) for name in storage.models.__all__)
    base = storage.models.BaseModel
    return [m for m in models if inspect.isclass(m) and issubclass(m, base) and m is not base]


def _where(sql: str | None) -> str:
    """A partial index's condition, in words both engines' spellings come down to."""
    if not sql or " WHERE " not in sql.upper():
        return ""
    condition = sql[sql.upper().index(" WHERE ") + 7 :]
    condition = re.sub(r"::\w+", "", condition).replace('"', "").replace("(", "").replace(")", "")
    condition = re.sub(r"\b\w+\.", "", condition).replace("!=", "<>")
    return " where " + " ".join(condition.split())


def _columns(table: str) -> list[str]:
    if is_postgres():
        rows = db.execute_sql(
            "SELECT column_name, data_type, character_maximum_length, is_nullable, column_default"
            " FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s",
            (table,),
        ).fetchall()
        return [
            f"{name} {kind}{f'({length})' if length else ''}{' null' if nullable == 'YES' else ' not null'}"
            f"{f' default {default}' if default else ''}"
            for name, kind, length, nullable, default in rows
        ]
    rows = db.execute_sql(f'PRAGMA table_info("{table}")').fetchall()
    return [
        f"{name} {kind}{' not null' if notnull else ' null'}{f' default {default}' if default is not None else ''}"
        for _, name, kind, notnull, default, _ in rows
    ]


def schema() -> list[str]:
    """The bound database's schema, a line per fact, sorted: what a diff reads best."""
    lines = []
    for table in db.get_tables():
        lines += [f"{table}: column {column}" for column in _columns(table)]
        lines.append(f"{table}: primary key ({', '.join(db.get_primary_keys(table))})")
        lines += [
            f"{table}: foreign key ({fk.column}) references {fk.dest_table} ({fk.dest_column})"
            for fk in db.get_foreign_keys(table)
        ]
        for index in db.get_indexes(table):
            if index.name.endswith("_pkey") or index.name.startswith("sqlite_autoindex"):
                continue  # the primary key's own, named by the engine: compared as the primary key
            unique = "unique index" if index.unique else "index"
            lines.append(f"{table}: {unique} {index.name} ({', '.join(index.columns)}){_where(index.sql)}")
    return sorted(lines)


def _empty_database(url: str, tmp_path: Path) -> None:
    if is_postgres():
        db.execute_sql("DROP SCHEMA public CASCADE")
        db.execute_sql("CREATE SCHEMA public")
    else:
        db.close()
        (tmp_path / "live").mkdir()
        bind(open_database(sqlite_url(tmp_path / "live")))


def test_migrations_from_zero_build_the_schema_the_models_describe(any_database, tmp_path):
    migrate()
    migrated = schema()
    _empty_database(any_database, tmp_path)
    db.create_tables(_live_models())
    live = schema()
    assert len({line.split(":")[0] for line in live}) == len(_live_models()) == 36
    diff = "\n".join(difflib.unified_diff(live, migrated, "live models", "migrations from zero", lineterm=""))
    assert migrated == live, f"the migrations build another schema than the models describe:\n{diff}"


def test_no_migration_reads_the_live_models():
    """A migration that created a table from `storage.models` would change with it."""
    for path in Path(storage.migrations.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                module = "." * node.level + (node.module or "")
                assert "models" not in module.split("."), f"{path.name} imports {module}"


@pytest.mark.parametrize("target", [5, 8, 10])
def test_an_older_schema_upgrades_to_the_same_schema(any_database, tmp_path, target):
    """Stopping at an older version and going on later builds what migrating at once does."""
    migrate(target=target)
    migrate()
    upgraded = schema()
    _empty_database(any_database, tmp_path)
    migrate()
    assert upgraded == schema()
