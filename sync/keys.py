"""Signing and key-agreement keys, with the signing algorithm a named choice from an allow-list.

The algorithm is always chosen by the verifier (from the key it trusts), never by
incoming data: there is no `none`, and no field of a message can downgrade it.
ECDSA P-256 is the default because openssl and PDF validators check it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from .errors import SignatureError, UnsupportedAlgorithm

ECDSA_P256 = "ecdsa-p256-sha256"
ED25519 = "ed25519"
ALGORITHMS = (ECDSA_P256, ED25519)
DEFAULT_ALGORITHM = ECDSA_P256

# RFC 6979 deterministic nonces: the same key and message give the same signature,
# so golden vectors pin the bytes, and a bad random source cannot leak the key.
_ECDSA = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
_ECDSA_VERIFY = ec.ECDSA(hashes.SHA256())


def _require(algorithm: str) -> None:
    if algorithm not in ALGORITHMS:
        raise UnsupportedAlgorithm(f"signing algorithm {algorithm!r} is not allowed")


@dataclass(frozen=True)
class VerifyingKey:
    """A public signing key bound to the one algorithm it may be used with."""

    algorithm: str
    public_key: ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey

    def __post_init__(self) -> None:
        _require(self.algorithm)
        expected = ec.EllipticCurvePublicKey if self.algorithm == ECDSA_P256 else ed25519.Ed25519PublicKey
        if not isinstance(self.public_key, expected):
            raise UnsupportedAlgorithm(f"key does not match algorithm {self.algorithm}")
        if self.algorithm == ECDSA_P256 and not isinstance(self.public_key.curve, ec.SECP256R1):
            raise UnsupportedAlgorithm("ECDSA keys must be on P-256")

    def verify(self, signature: bytes, message: bytes) -> None:
        try:
            if self.algorithm == ECDSA_P256:
                if len(signature) != 64:
                    raise InvalidSignature
                der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
                self.public_key.verify(der, message, _ECDSA_VERIFY)
            else:
                self.public_key.verify(signature, message)
        except InvalidSignature as exc:
            raise SignatureError("signature does not verify") from exc

    def public_bytes(self) -> bytes:
        """SubjectPublicKeyInfo DER: what certificates and key ids are made of."""
        return self.public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    @property
    def key_id(self) -> str:
        return hashlib.sha256(self.public_bytes()).hexdigest()[:32]

    @classmethod
    def from_public_bytes(cls, algorithm: str, der: bytes) -> VerifyingKey:
        _require(algorithm)
        try:
            key = serialization.load_der_public_key(der)
        except ValueError as exc:
            raise SignatureError("public key is not valid DER") from exc
        return cls(algorithm, key)


@dataclass(frozen=True)
class SigningKey:
    algorithm: str
    private_key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

    @classmethod
    def generate(cls, algorithm: str = DEFAULT_ALGORITHM) -> SigningKey:
        _require(algorithm)
        if algorithm == ECDSA_P256:
            return cls(algorithm, ec.generate_private_key(ec.SECP256R1()))
        return cls(algorithm, ed25519.Ed25519PrivateKey.generate())

    def sign(self, message: bytes) -> bytes:
        """ECDSA signatures are returned as raw r||s (64 bytes), not DER: fixed size."""
        if self.algorithm == ECDSA_P256:
            r, s = decode_dss_signature(self.private_key.sign(message, _ECDSA))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return self.private_key.sign(message)

    @property
    def verifying_key(self) -> VerifyingKey:
        return VerifyingKey(self.algorithm, self.private_key.public_key())

    def to_pem(self) -> bytes:
        return private_pem(self.private_key)

    @classmethod
    def from_pem(cls, algorithm: str, pem: bytes) -> SigningKey:
        _require(algorithm)
        key = serialization.load_pem_private_key(pem, password=None)
        signing = cls(algorithm, key)
        signing.verifying_key  # noqa: B018 - raises if the key does not match the algorithm
        return signing


def generate_agreement_key() -> ec.EllipticCurvePrivateKey:
    """Key agreement is its own key (never the signing key): ECDH on P-256."""
    return ec.generate_private_key(ec.SECP256R1())


def private_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_secret(path: Path, data: bytes) -> None:
    """Write a secret file readable by its owner only; it is created 0600, never chmod-ed after."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
