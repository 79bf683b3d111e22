"""The release path's refusals, each in words a county IT worker can act on."""

from __future__ import annotations

from node.errors import DomainError


class ReleaseRefused(DomainError):
    """A key ceremony step that cannot be done as asked (a key that is not a key, too few signatures, a
    threshold above the keys named): nothing is written."""

    code = "release_refused"


class UpdateRefused(DomainError):
    """Release metadata or a release archive that did not verify: tampered, expired, rolled back, frozen, or
    signed by keys the city never trusted. Nothing of it is kept or installed; `reason` is a stable word."""

    code = "update_refused"

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class UpdateUnavailable(DomainError):
    """The parent or the stick could not be read (retryable: a download resumes where it stopped)."""

    code = "update_unavailable"
