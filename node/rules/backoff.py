"""When to try an outbox's send again: exponential backoff with full jitter, so that many waiting items (or
many hubs) that failed together do not all come back together."""

from __future__ import annotations

import random


def backoff_ms(ms: int, attempts: int, rng: random.Random, *, base_ms: int = 30_000, cap_ms: int = 3_600_000) -> int:
    """The moment after `ms` to try again after `attempts` failures: at least half the base, at most the cap."""
    delay = min(cap_ms, base_ms * 2 ** max(0, attempts - 1))
    return ms + base_ms // 2 + rng.randrange(delay)
