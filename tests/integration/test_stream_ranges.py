"""A child's pull reads its streams as ranges of the log's index by stream and arrival (`in_streams`): on
SQLite and PostgreSQL alike, a prefix's range holds exactly the streams named so or starting so, whatever the
names' letters, digits and punctuation."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from storage.database import execute
from storage.events import in_streams
from storage.models import EventRecord

NAMES = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,10}", fullmatch=True)  # `sync.event`'s names, shorter


@given(streams=st.lists(NAMES, min_size=1, max_size=25, unique=True), data=st.data())
def test_a_prefix_range_holds_exactly_the_streams_that_start_with_it(migrated, streams, data):
    EventRecord.delete().execute()
    EventRecord.insert_many(
        [
            {"eid": f"{k:064x}", "origin": "o", "stream": stream, "seq": 1, "hlc": 0, "type": "t", "entity": "e"}
            | {"body": b"", "chain": "c", "status": "applied"}
            for k, stream in enumerate(streams)
        ]
    ).execute()
    heads = st.sampled_from(streams).flatmap(lambda s: st.integers(1, len(s)).map(lambda n: s[:n]))
    prefixes = data.draw(st.lists(heads | NAMES, min_size=1, max_size=3))
    narrowed, params = in_streams(prefixes)
    found = {stream for (stream,) in execute(f"SELECT stream FROM event WHERE {narrowed}", *params)}
    assert found == {s for s in streams if any(s.startswith(p) for p in prefixes)}
