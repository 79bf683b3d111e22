"""The one encryption envelope: ECDH P-256 → HKDF-SHA256 → AES-256-GCM, and the reply to one.

The envelope serves HTTP bodies, USB bundles and wrapped data keys alike. Layout:
`b"OTE1" | ephemeral public key (65 bytes, uncompressed) | nonce (12) | ciphertext+tag`.
The ephemeral key and nonce are arguments only so that golden vectors can pin them.

A reply answers one envelope with a key derived from that envelope's own key agreement
(`seal_replying`, `open_replying`): only its sender, who alone holds the ephemeral key, and its
recipient can derive it, so the answer needs no key agreement of its own. Layout:
`b"OTR1" | nonce (12) | ciphertext+tag`.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import CipherError

MAGIC, REPLY_MAGIC = b"OTE1", b"OTR1"
_POINT = 65
_NONCE = 12
_HEADER = len(MAGIC) + _POINT + _NONCE
_TAG = 16
OVERHEAD = _HEADER + _TAG  # what sealing adds to a plaintext: the header and the GCM tag
_ENVELOPE, _REPLY = b"onetrip/envelope/v1|", b"onetrip/reply/v1|"  # HKDF labels: a reply key is no envelope key


def point_bytes(public_key: ec.EllipticCurvePublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def _derive(shared: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(shared)


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
    return _seal(recipient, plaintext, context, aad, ephemeral, nonce, replying=False)[0]


def seal_replying(
    recipient: ec.EllipticCurvePublicKey, plaintext: bytes, *, context: bytes = b"", aad: bytes = b""
) -> tuple[bytes, bytes]:
    """`seal`, and the key of the one reply to it (`open_reply`)."""
    return _seal(recipient, plaintext, context, aad, None, None, replying=True)


def _seal(recipient, plaintext, context, aad, ephemeral, nonce, *, replying: bool) -> tuple[bytes, bytes | None]:
    if not isinstance(recipient.curve, ec.SECP256R1):
        raise CipherError("recipient key must be on P-256")
    ephemeral = ephemeral or ec.generate_private_key(ec.SECP256R1())
    nonce = nonce or os.urandom(_NONCE)
    if len(nonce) != _NONCE or not isinstance(ephemeral.curve, ec.SECP256R1):
        raise CipherError("the nonce must be 12 bytes and the ephemeral key on P-256")
    eph_point = point_bytes(ephemeral.public_key())
    shared, salt = ephemeral.exchange(ec.ECDH(), recipient), eph_point + point_bytes(recipient)
    key = _derive(shared, salt, _ENVELOPE + context)
    envelope = MAGIC + eph_point + nonce + AESGCM(key).encrypt(nonce, plaintext, MAGIC + eph_point + aad)
    return envelope, _derive(shared, salt, _REPLY + context) if replying else None


def open_sealed(recipient: ec.EllipticCurvePrivateKey, data: bytes, *, context: bytes = b"", aad: bytes = b"") -> bytes:
    return _open(recipient, data, context, aad, replying=False)[0]


def open_replying(
    recipient: ec.EllipticCurvePrivateKey, data: bytes, *, context: bytes = b"", aad: bytes = b""
) -> tuple[bytes, bytes]:
    """`open_sealed`, and the key to reply with (`seal_reply`)."""
    return _open(recipient, data, context, aad, replying=True)


def _open(recipient, data: bytes, context: bytes, aad: bytes, *, replying: bool) -> tuple[bytes, bytes | None]:
    if len(data) < _HEADER + _TAG or not data.startswith(MAGIC):
        raise CipherError("not an OneTrip envelope")
    eph_point = data[len(MAGIC) : len(MAGIC) + _POINT]
    nonce = data[len(MAGIC) + _POINT : _HEADER]
    try:
        ephemeral = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), eph_point)
    except ValueError as exc:
        raise CipherError("envelope carries an invalid ephemeral key") from exc
    shared = recipient.exchange(ec.ECDH(), ephemeral)
    salt = eph_point + point_bytes(recipient.public_key())
    try:
        plaintext = AESGCM(_derive(shared, salt, _ENVELOPE + context)).decrypt(
            nonce, data[_HEADER:], MAGIC + eph_point + aad
        )
    except InvalidTag as exc:
        raise CipherError("envelope was altered or is not for this key") from exc
    return plaintext, _derive(shared, salt, _REPLY + context) if replying else None


def seal_reply(key: bytes, plaintext: bytes, *, aad: bytes = b"", nonce: bytes | None = None) -> bytes:
    """The answer to an envelope, with the key `open_replying` gave for it. A key answers one envelope
    once, but the nonce is random all the same (an argument only so that golden vectors can pin it)."""
    nonce = nonce or os.urandom(_NONCE)
    if len(nonce) != _NONCE:
        raise CipherError("the nonce must be 12 bytes")
    return REPLY_MAGIC + nonce + AESGCM(key).encrypt(nonce, plaintext, REPLY_MAGIC + aad)


def open_reply(key: bytes, data: bytes, *, aad: bytes = b"") -> bytes:
    header = len(REPLY_MAGIC) + _NONCE
    if len(data) < header + _TAG or not data.startswith(REPLY_MAGIC):
        raise CipherError("not an OneTrip reply")
    try:
        return AESGCM(key).decrypt(data[len(REPLY_MAGIC) : header], data[header:], REPLY_MAGIC + aad)
    except InvalidTag as exc:
        raise CipherError("reply was altered or does not answer this envelope") from exc
