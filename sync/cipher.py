"""The one encryption envelope: ECDH P-256 → HKDF-SHA256 → AES-256-GCM.

It serves HTTP bodies, USB bundles and wrapped data keys alike. Layout:
`b"OTE1" | ephemeral public key (65 bytes, uncompressed) | nonce (12) | ciphertext+tag`.
The ephemeral key and nonce are arguments only so that golden vectors can pin them.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import CipherError

MAGIC = b"OTE1"
_POINT = 65
_NONCE = 12
_HEADER = len(MAGIC) + _POINT + _NONCE
OVERHEAD = _HEADER + 16  # what sealing adds to a plaintext: the header and the GCM tag


def point_bytes(public_key: ec.EllipticCurvePublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def _derive(shared: bytes, ephemeral: bytes, recipient: bytes, context: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=ephemeral + recipient,
        info=b"onetrip/envelope/v1|" + context,
    ).derive(shared)


def seal(
    recipient: ec.EllipticCurvePublicKey,
    plaintext: bytes,
    *,
    context: bytes = b"",
    aad: bytes = b"",
    ephemeral: ec.EllipticCurvePrivateKey | None = None,
    nonce: bytes | None = None,
) -> bytes:
    """Encrypt to one recipient's key-agreement key; `context` separates uses (body, bundle, data key)."""
    if not isinstance(recipient.curve, ec.SECP256R1):
        raise CipherError("recipient key must be on P-256")
    ephemeral = ephemeral or ec.generate_private_key(ec.SECP256R1())
    nonce = nonce or os.urandom(_NONCE)
    if len(nonce) != _NONCE or not isinstance(ephemeral.curve, ec.SECP256R1):
        raise CipherError("the nonce must be 12 bytes and the ephemeral key on P-256")
    eph_point = point_bytes(ephemeral.public_key())
    key = _derive(ephemeral.exchange(ec.ECDH(), recipient), eph_point, point_bytes(recipient), context)
    return MAGIC + eph_point + nonce + AESGCM(key).encrypt(nonce, plaintext, MAGIC + eph_point + aad)


def open_sealed(recipient: ec.EllipticCurvePrivateKey, data: bytes, *, context: bytes = b"", aad: bytes = b"") -> bytes:
    if len(data) < _HEADER + 16 or not data.startswith(MAGIC):
        raise CipherError("not an OneTrip envelope")
    eph_point = data[len(MAGIC) : len(MAGIC) + _POINT]
    nonce = data[len(MAGIC) + _POINT : _HEADER]
    try:
        ephemeral = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), eph_point)
    except ValueError as exc:
        raise CipherError("envelope carries an invalid ephemeral key") from exc
    key = _derive(recipient.exchange(ec.ECDH(), ephemeral), eph_point, point_bytes(recipient.public_key()), context)
    try:
        return AESGCM(key).decrypt(nonce, data[_HEADER:], MAGIC + eph_point + aad)
    except InvalidTag as exc:
        raise CipherError("envelope was altered or is not for this key") from exc
