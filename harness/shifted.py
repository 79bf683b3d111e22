"""`onetrip` with its clock a given number of seconds ahead, so that a week can pass for a hub without
waiting a week (`python -m harness.shifted SECONDS serve …`). Only the node's wall clock moves:
the hybrid logical clock, signed heads, certificates and request times all read it."""

from __future__ import annotations

import sys

from sync.hlc import SystemClock


def _shifted(seconds: int):
    real = SystemClock.now_ms
    return lambda self: real(self) + seconds * 1000


def shift(seconds: int) -> None:
    SystemClock.now_ms = _shifted(seconds)


def shift_for_test(monkeypatch, seconds: int) -> None:
    """The same in a test's own process, undone after the test."""
    monkeypatch.setattr(SystemClock, "now_ms", _shifted(seconds))


if __name__ == "__main__":
    from app import main

    shift(int(sys.argv[1]))
    sys.exit(main(sys.argv[2:]))
