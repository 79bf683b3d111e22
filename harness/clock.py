"""A wall clock the test controls: it stands still until told to move, and can be moved back."""

from __future__ import annotations

import threading


class FrozenClock:
    """Satisfies `sync.hlc.Clock`. Starts at `start_ms` (milliseconds since the epoch) and never moves by itself."""

    def __init__(self, start_ms: int = 1_795_000_000_000) -> None:
        self._ms = start_ms
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        with self._lock:
            return self._ms

    def set_ms(self, ms: int) -> None:
        """Put the clock at `ms`, earlier or later than now (a PC whose date was changed)."""
        with self._lock:
            self._ms = ms

    def advance(self, ms: int) -> None:
        """Move the clock by `ms`; negative moves it back."""
        with self._lock:
            self._ms += ms

    def __repr__(self) -> str:
        return f"FrozenClock({self._ms})"
