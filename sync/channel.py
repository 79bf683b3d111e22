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

from cryptography.hazmat.primitives.asymmetric import ec

from .keys import SigningKey
from .request import ANSWER_CONTEXT, CERTIFICATES, open_body, seal_and_sign
from .transport import Refused, Transport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Channel:
    transport: Transport
    signing: SigningKey
    agreement: ec.EllipticCurvePrivateKey  # opens the answers
    recipient: ec.EllipticCurvePublicKey  # the parent's certified key-agreement key
    station: str
    installation: str
    now_ms: Callable[[], int]
    certificates: Callable[[], str]  # our certificates as the header carries them, asked for only when needed

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

    def call(self, path: str, context: bytes, plaintext: bytes) -> bytes:
        """Sign, seal, send and open the answer; `Refused` and `Unreachable` pass through."""
        time_ms, nonce, extra, skewed = self.now_ms(), secrets.token_hex(16), {}, False
        while True:
            headers, body = self.sealed(path, context, plaintext, time_ms, nonce)
            try:
                answer = self.transport.post(path, {**headers, **extra}, body)
                return open_body(self.agreement, answer, context=ANSWER_CONTEXT, nonce=nonce)
            except Refused as exc:
                if exc.code == "unknown_installation" and not extra:
                    extra = {CERTIFICATES: self.certificates()}
                elif exc.code == "clock_skew" and not skewed:
                    log.warning("clock skew with the parent: %s", exc)
                    time_ms, nonce, skewed = exc.details["server_time_ms"], exc.details["nonce"], True
                else:
                    raise
