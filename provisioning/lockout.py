"""Locking a secret after wrong tries in a row (an account's password, a seal's PIN): the rule alone.

Whoever keeps the counter counts an attempt with `count_attempt` in the write transaction that reads the
counter, and only then runs the slow check: parallel guesses queue for the counter, not for the check,
so a burst of them cannot all be checked before the first failure is written.
"""

from __future__ import annotations

import dataclasses
import datetime as dt


@dataclasses.dataclass(frozen=True)
class Attempt:
    allowed: bool  # False: locked now; the secret must not even be checked
    failures: int  # tries counted in this run, this one included (a right secret then resets the counter)
    locked_until: dt.datetime | None


def count_attempt(
    failures: int, locked_until: dt.datetime | None, now: dt.datetime, *, limit: int, lock: dt.timedelta
) -> Attempt:
    """The counter after one more try: the try that reaches `limit` locks at once, before it is checked."""
    if locked_until is not None and now < locked_until:
        return Attempt(False, failures, locked_until)
    failures = (0 if locked_until is not None else failures) + 1  # a lock that ran out starts a new run
    return Attempt(True, failures, now + lock if failures >= limit else None)


def minutes_left(locked_until: dt.datetime, now: dt.datetime) -> int:
    """Whole minutes, rounded up, as a person is told to wait."""
    return max(1, -(-int((locked_until - now).total_seconds()) // 60))
