"""The `onetrip` command run in-process, as a person at the keyboard would, and the SQLite rows it leaves."""

from __future__ import annotations

import sqlite3

from app import main
from storage.database import db


def onetrip(capsys, *args) -> tuple[int, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    db.close()
    out, err = capsys.readouterr()
    return code, out + err


def rows(data_dir, sql: str) -> list[tuple]:
    with sqlite3.connect(data_dir / "onetrip.db") as conn:
        return conn.execute(sql).fetchall()
