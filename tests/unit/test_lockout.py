"""The lockout rule: counted before the check, locked on the try that reaches the limit, a new run after."""

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from provisioning.lockout import count_attempt, minutes_left

NOW = dt.datetime(2026, 11, 23, 9, 0)
LOCK = dt.timedelta(minutes=15)


@given(st.integers(min_value=1, max_value=40))
def test_no_more_than_the_limit_of_tries_is_allowed_in_a_row(tries):
    failures, locked_until, allowed = 0, None, 0
    for _ in range(tries):
        attempt = count_attempt(failures, locked_until, NOW, limit=5, lock=LOCK)
        failures, locked_until, allowed = attempt.failures, attempt.locked_until, allowed + attempt.allowed
    assert allowed == min(tries, 5)
    assert (locked_until is not None) == (tries >= 5)


def test_a_lock_that_ran_out_starts_a_new_run_of_tries():
    attempt = count_attempt(5, NOW, NOW + dt.timedelta(seconds=1), limit=5, lock=LOCK)
    assert attempt.allowed and attempt.failures == 1 and attempt.locked_until is None


def test_the_wait_is_told_in_whole_minutes_rounded_up():
    assert minutes_left(NOW + dt.timedelta(minutes=14, seconds=1), NOW) == 15
    assert minutes_left(NOW + dt.timedelta(seconds=59), NOW) == 1
