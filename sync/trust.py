"""The questions the sync engine asks about trust; `provisioning/` answers them with certificates.

The engine never decides who may sign what: it asks `Trust`. Here lives the one
answer that needs no certificates: a set of pinned keys (a standalone node
trusts its own installation and nothing else).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from .keys import VerifyingKey


class Trust(Protocol):
    def verifying_key(self, origin: str) -> VerifyingKey | None:
        """The key that signs `origin`'s heads, with its algorithm; None if unknown."""

    def authorize(self, origin: str, stream: str, seq: int, event_type: str) -> str | None:
        """None if `origin` may make this event at this point of its stream, else the reason it may not."""

    def may_write(self, origin: str, stream: str) -> bool:
        """Whether `origin` may write `stream` at all: a node signs heads only for those (invariant 11)."""

    def forget(self) -> None:
        """Trust data may have changed (or a transaction that changed it rolled back): drop any cache."""

    def vouched(self, origin: str, stream: str) -> tuple[int, str | None] | None:
        """For a revoked origin: the last seq (and chain hash there) its county still vouches for."""

    def valid_from_ms(self, origin: str, stream: str) -> int | None:
        """When `origin`'s key was first certified to write `stream` (ms): an event it dates earlier is
        quarantined. None where no such moment binds it (work written before enrolment)."""


class PinnedTrust:
    """Trusts exactly the given installations' keys, for every event type."""

    def __init__(self, keys: Mapping[str, VerifyingKey]):
        self._keys = dict(keys)

    def verifying_key(self, origin: str) -> VerifyingKey | None:
        return self._keys.get(origin)

    def authorize(self, origin: str, stream: str, seq: int, event_type: str) -> str | None:
        if origin in self._keys:
            return None
        return f"安装 {origin} 未获信任"

    def may_write(self, origin: str, stream: str) -> bool:
        return origin in self._keys

    def forget(self) -> None:
        pass  # nothing cached

    def vouched(self, origin: str, stream: str) -> tuple[int, str | None] | None:
        return None  # pinned keys are never revoked

    def valid_from_ms(self, origin: str, stream: str) -> int | None:
        return None  # pinned keys have no certificate
