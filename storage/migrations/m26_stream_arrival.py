"""Migration 26: the log indexed by stream, then arrival. A station's pull read every event that arrived after
its cursor to keep its own few: in the metro storm each station's first pull at its county scanned tens of
thousands of rows, 180 ms a pull, most of PostgreSQL's time. By stream it reads its own streams' rows.

On PostgreSQL the index sorts streams byte by byte (`COLLATE "C"`), as `storage.events.in_streams` reads a
prefix's streams as a range: in a language's collation a range need not hold exactly the names that start so."""

from __future__ import annotations

from ..database import db, is_postgres


def apply() -> None:
    stream = 'stream COLLATE "C"' if is_postgres() else "stream"
    db.execute_sql(f"CREATE INDEX IF NOT EXISTS event_stream_arrival ON event ({stream}, arrival)")
