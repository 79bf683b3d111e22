"""A clock offset as a person reads it, and when it is written again."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.link.health import clock_wrong, offset_moved, offset_words

DAY_MS = 86_400_000


@pytest.mark.parametrize(
    ("offset_ms", "words"),
    [
        (3 * DAY_MS + 5_000, "快 3 天"),
        (-365 * DAY_MS + 40, "慢 365 天"),
        (-12 * 60_000, "慢 12 分钟"),
        (5 * 3_600_000, "快 5 小时"),
        (90_000, "快 90 秒"),
        (400, "0 秒"),
    ],
)
def test_an_offset_is_said_in_the_largest_unit_that_reads_well(offset_ms, words):
    assert offset_words(offset_ms) == words


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_the_words_say_ahead_or_behind_as_the_sign_does(offset_ms):
    words = offset_words(offset_ms)
    if words == "0 秒":
        assert abs(offset_ms) <= 500
    else:
        assert words.startswith("快" if offset_ms > 0 else "慢")


def test_only_an_offset_beyond_the_drift_allowed_is_wrong_and_only_a_real_move_is_written():
    assert clock_wrong(301_000, 300) and clock_wrong(-301_000, 300) and not clock_wrong(299_000, 300)
    assert not clock_wrong(None, 300)
    assert offset_moved(None, 10) and offset_moved(0, 3 * DAY_MS) and not offset_moved(1_000, 1_200)
