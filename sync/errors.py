"""Errors of the sync protocol, each permanent or retryable, each with a stable code."""

from __future__ import annotations


class SyncError(Exception):
    """Base of every error raised by `sync/`."""

    code = "sync_error"
    retryable = False


class EncodingError(SyncError):
    code = "bad_encoding"


class SignatureError(SyncError):
    code = "bad_signature"


class UnsupportedAlgorithm(SyncError):
    code = "unsupported_algorithm"


class ChainError(SyncError):
    """A batch of events that does not verify. `code` names what is wrong."""

    def __init__(self, code: str, message: str, *, held_seq: int | None = None):
        super().__init__(message)
        self.code = code
        self.held_seq = held_seq


class GapError(ChainError):
    """A batch starts after what the receiver holds; resend from `held_seq + 1`."""

    def __init__(self, message: str, *, held_seq: int):
        super().__init__("gap", message, held_seq=held_seq)


class ForkError(ChainError):
    """The origin's own key signed another event at a seq we hold: proof of a cloned or stolen
    installation. Carries the other history from that event to the head vouching for it (`run`),
    to be kept as evidence and reported up."""

    def __init__(self, message: str, *, held_eid: str, run: tuple[bytes, ...], head):
        super().__init__("fork", message)
        self.held_eid, self.run, self.head = held_eid, run, head

    @property
    def other(self) -> bytes:
        return self.run[0]


class CipherError(SyncError):
    code = "bad_ciphertext"


class KeyUnavailable(SyncError):
    """The data key of an entity is not (or no longer) held here."""

    code = "key_unavailable"


class ClockDrift(SyncError):
    code = "clock_skew"
    retryable = True


class Busy(SyncError):
    """The parent is applying as many requests as it allows at once: backpressure, not a failure."""

    code = "busy"
    retryable = True
    http_status = 503

    def __init__(self, message: str, *, retry_after_s: int):
        super().__init__(message)
        self.details = {"retry_after_s": retry_after_s}


class RequestRefused(SyncError):
    """A sync request that does not prove who sent it (signature, certificate, station, revocation)."""

    code = "request_refused"
    http_status = 403


class UnsupportedProtocol(RequestRefused):
    """A request in a protocol version this node does not speak (neither the current nor the one before)."""

    code = "protocol_version"
    http_status = 400


class ReplayedRequest(RequestRefused):
    code = "replayed_request"


class ClockSkew(ClockDrift):
    """The requester's clock is too far from ours: it may sign our time and this nonce instead."""

    http_status = 409

    def __init__(self, message: str, *, server_time_ms: int, nonce: str):
        super().__init__(message)
        self.details = {"server_time_ms": server_time_ms, "nonce": nonce}


class UnknownInstallation(RequestRefused):
    """No certificate known here for the requester yet: it may send its own (they prove themselves)."""

    code = "unknown_installation"


class InstallationRevoked(RequestRefused):
    code = "installation_revoked"


class OutOfScope(SyncError):
    """A batch carries a stream the sender may not relay (not its own or its descendants')."""

    code = "out_of_scope"
