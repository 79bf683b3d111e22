"""Pages show times in Beijing time, whatever form the node keeps them in (UTC)."""

from __future__ import annotations

import datetime as dt

from web.beijing import beijing


def test_utc_times_are_shown_eight_hours_later_across_midnight():
    assert beijing("2026-12-04T16:44:50+00:00") == "2026-12-05 00:44"
    assert beijing(dt.datetime(2026, 12, 4, 16, 44, 50)) == "2026-12-05 00:44"  # naive means UTC
    assert beijing(dt.datetime(2026, 12, 4, 16, 44, 50, tzinfo=dt.UTC), seconds=True) == "2026-12-05 00:44:50"
    assert beijing("2026-12-04 16:44") == "2026-12-05 00:44"


def test_no_time_is_a_dash_and_text_that_is_no_time_is_kept():
    assert beijing(None) == "—" and beijing("") == "—"
    assert beijing("从未") == "从未"
