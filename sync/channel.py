"""A child's signed, sealed requests to its parent, with the two retries the protocol allows.

Once more with its certificates when the parent does not know it yet, once more with the
parent's time and nonce when the clocks disagree (protocol §9.5). It needs keys, not a
database: a node's sync round and the fleet simulator's stations both talk through it.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from cryptography.hazmat.primitives.asymmetric import ec

from .canonical import INT_MAX
from .errors import CipherError
from .keys import SigningKey
from .request import (
    ANSWER_CONTEXT,
    CERTIFICATES,
    PROTOCOL,
    REPLYING,
    is_nonce,
    open_answer,
    open_body,
    seal_and_sign,
    seal_request_body,
    sign_request,
)
from .transport import Refused, Transport

log = logging.getLogger(__name__)


class Sealed(NamedTuple):
    """A request's body sealed ahead of sending, and the key that opens its answer."""

    nonce: str
    body: bytes
    answer_key: bytes


@dataclass(frozen=True)
class Channel:
    transport: Transport
    signing: SigningKey
    agreement: ec.EllipticCurvePrivateKey  # opens the answers of a parent on protocol 2
    recipient: ec.EllipticCurvePublicKey  # the parent's certified key-agreement key
    station: str
    installation: str
    now_ms: Callable[[], int]
    certificates: Callable[[], str]  # our certificates as the header carries them, asked for only when needed
    protocol: int = PROTOCOL  # an older one only to show that hubs still answer it
    # Told the parent's clock minus ours when the parent refuses our time: the retry is signed with the
    # parent's time, so this is the only moment the node learns how wrong its own clock is.
    skewed_by: Callable[[int], None] | None = None

    def sealed(
        self, path: str, context: bytes, plaintext: bytes, time_ms: int, nonce: str
    ) -> tuple[dict[str, str], bytes]:
        return seal_and_sign(
            self.signing,
            self.recipient,
            plaintext,
            path=path,
            context=context,
            station=self.station,
            installation=self.installation,
            time_ms=time_ms,
            nonce=nonce,
        )

    def seal(self, context: bytes, plaintext: bytes, nonce: str | None = None) -> Sealed:
        """Compress and encrypt a body to the parent: the costly part, which a push does ahead on a worker."""
        nonce = nonce or secrets.token_hex(16)
        return Sealed(nonce, *seal_request_body(self.recipient, plaintext, context=context, nonce=nonce))

    def call(self, path: str, context: bytes, plaintext: bytes, sealed: Sealed | None = None) -> bytes:
        """Sign at send time (`sealed` ahead, or sealed now), send, open the answer; `Refused` and
        `Unreachable` pass through. A retry after a clock skew seals again with the parent's nonce."""
        time_ms, extra, skewed = self.now_ms(), {}, False
        nonce, body, answer_key = sealed or self.seal(context, plaintext)
        while True:
            headers = sign_request(
                self.signing,
                method="POST",
                path=path,
                station=self.station,
                installation=self.installation,
                time_ms=time_ms,
                nonce=nonce,
                body=body,
                protocol=self.protocol,
            )
            try:
                answer = self.transport.post(path, {**headers, **extra}, body)
            except Refused as exc:
                if exc.code == "unknown_installation" and not extra:
                    extra = {CERTIFICATES: self.certificates()}
                elif exc.code == "clock_skew" and not skewed:
                    log.warning("clock skew with the parent: %s", exc)
                    parent_ms, parent_nonce = _retry_with(exc)
                    if self.skewed_by is not None:
                        self.skewed_by(parent_ms - time_ms)
                    time_ms, skewed = parent_ms, True
                    nonce, body, answer_key = self.seal(context, plaintext, parent_nonce)
                else:
                    raise
                continue
            try:
                if self.protocol >= REPLYING:
                    return open_answer(answer_key, answer, nonce=nonce)
                return open_body(self.agreement, answer, context=ANSWER_CONTEXT, nonce=nonce)
            except CipherError as exc:
                raise CipherError("上级的回答无法解开：不是加密给本机的，或在途中被改动") from exc


def _retry_with(refusal: Refused) -> tuple[int, str]:
    """The parent's time and nonce a clock-skew refusal gives for the retry. The refusal is not signed:
    one that lacks them, or carries them in the wrong shape, is no OneTrip parent's answer."""
    time_ms, nonce = refusal.details.get("server_time_ms"), refusal.details.get("nonce")
    if type(time_ms) is not int or not 0 <= time_ms <= INT_MAX or not (isinstance(nonce, str) and is_nonce(nonce)):
        said = "上级说本机时钟不对，却没有给出它的时间和一次性编号：不是 OneTrip 节点的回答"
        raise Refused("bad_answer", said, {}, 502)
    return time_ms, nonce
