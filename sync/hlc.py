"""Hybrid logical clock: wall milliseconds plus a counter, packed in one integer.

A timestamp is `wall_ms << 16 | counter`. It never goes backwards, whatever the
wall clock does; it follows a clock that jumps forward (the wall clock is the best
guess we have), and it refuses to be dragged ahead by a remote timestamp more
than `max_drift_ms` in front of our own clock, so one PC with a wrong date cannot
push the whole fleet into the future.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

from .errors import ClockDrift

COUNTER_BITS = 16
COUNTER_MAX = (1 << COUNTER_BITS) - 1
DEFAULT_MAX_DRIFT_MS = 5 * 60 * 1000
BEIJING = dt.timezone(dt.timedelta(hours=8))
# How far ahead of our clock a received event may be dated before it is quarantined: a day, beyond any
# wrong time zone or a PC waiting for its clock to be set, so that a clock hours off still syncs (and is
# reported), while a date days ahead, which would sort after everything for as long, is held for a person.
FAR_AHEAD_MS = 24 * 3600 * 1000
# The words that mark a quarantine for a time ahead of ours: `EventLog.readmit_on_time` looks for them.
AHEAD_OF_OUR_CLOCK = "比本机时钟超前"


class Clock(Protocol):
    def now_ms(self) -> int: ...


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


def pack(wall_ms: int, counter: int) -> int:
    return wall_ms << COUNTER_BITS | counter


def unpack(stamp: int) -> tuple[int, int]:
    return stamp >> COUNTER_BITS, stamp & COUNTER_MAX


@dataclass
class HybridClock:
    """Issues timestamps for local events and absorbs the timestamps of received ones."""

    clock: Clock
    last: int = 0
    max_drift_ms: int = DEFAULT_MAX_DRIFT_MS
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def now(self) -> int:
        with self._lock:
            wall = self.clock.now_ms()
            last_wall, counter = unpack(self.last)
            if wall > last_wall:
                self.last = pack(wall, 0)
            elif counter < COUNTER_MAX:
                self.last = pack(last_wall, counter + 1)
            else:  # 65,536 events in one millisecond: borrow the next millisecond
                self.last = pack(last_wall + 1, 0)
            return self.last

    def observe(self, remote: int) -> int:
        """Move past a received timestamp; refuse one too far ahead of our wall clock."""
        wall = self.clock.now_ms()
        remote_wall, _ = unpack(remote)
        if remote_wall - wall > self.max_drift_ms:
            raise ClockDrift(
                f"remote clock is {(remote_wall - wall) / 1000:.0f} s ahead of ours "
                f"(limit {self.max_drift_ms / 1000:.0f} s)"
            )
        with self._lock:
            self.last = max(self.last, remote)
        return self.now()

    def drift_ms(self) -> int:
        """How far our timestamps run ahead of the wall clock (after it jumped back)."""
        return max(0, unpack(self.last)[0] - self.clock.now_ms())


def timing_problem(stamp: int, valid_from_ms: int | None, now_ms: int, ahead_ms: int = FAR_AHEAD_MS) -> str | None:
    """Why a received event's time cannot be true, in words for the quarantine; None if it can be.

    Before its signer's key was certified (the certificate's start already allows a day for clocks), or
    more than `ahead_ms` ahead of our clock: either is a forgery that wants to sort first or last in every
    replay, or a PC whose date is badly wrong; the event is kept, quarantined with this reason, for a person.
    """
    wall, _ = unpack(stamp)
    if valid_from_ms is not None and wall < valid_from_ms:
        return (
            f"事件时间 {_beijing(wall)} 早于签发者证书的生效时间 {_beijing(valid_from_ms)}："
            "疑似伪造或该电脑时钟严重错误，已隔离待核查"
        )
    if wall - now_ms > ahead_ms:
        return (
            f"事件时间 {_beijing(wall)} {AHEAD_OF_OUR_CLOCK} {(wall - now_ms) // 1000} 秒："
            "疑似伪造或该电脑时钟严重错误，已隔离待核查"
        )
    return None


def _beijing(wall_ms: int) -> str:
    moment = dt.datetime.fromtimestamp(wall_ms / 1000, BEIJING)
    return moment.strftime("%Y-%m-%d %H:%M")
