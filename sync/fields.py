"""Field-level encryption: residents' personal fields inside events.

Each entity (an application, a scan) has its own random data key. Fields are
AES-GCM encrypted under it, bound to the entity and field name; the data key is
wrapped with the envelope to each recipient (the station, its county…). A keyed
hash of a normalised value lets a holder of the lookup key search without
decrypting. Deleting one recipient's wrapped key makes the fields unreadable
there (crypto-shredding) while every event and chain stays as it was.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import unicodedata

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from . import cipher
from .errors import CipherError

DATA_KEY_BYTES = 32
_WRAP_CONTEXT = b"data-key"


def new_data_key() -> bytes:
    return os.urandom(DATA_KEY_BYTES)


def _aad(entity: str, name: str) -> bytes:
    return f"onetrip/field/v1|{entity}|{name}".encode()


def encrypt_field(data_key: bytes, entity: str, name: str, value: str, *, nonce: bytes | None = None) -> str:
    nonce = nonce or os.urandom(12)
    if len(nonce) != 12:
        raise CipherError("the nonce must be 12 bytes")
    sealed = nonce + AESGCM(data_key).encrypt(nonce, value.encode("utf-8"), _aad(entity, name))
    return base64.urlsafe_b64encode(sealed).decode("ascii")


def decrypt_field(data_key: bytes, entity: str, name: str, token: str) -> str:
    try:
        sealed = base64.urlsafe_b64decode(token.encode("ascii"))
        return AESGCM(data_key).decrypt(sealed[:12], sealed[12:], _aad(entity, name)).decode("utf-8")
    except (ValueError, InvalidTag) as exc:
        raise CipherError(f"field {name} of {entity} cannot be decrypted") from exc


def wrap_data_key(data_key: bytes, recipient: ec.EllipticCurvePublicKey, entity: str) -> bytes:
    return cipher.seal(recipient, data_key, context=_WRAP_CONTEXT, aad=entity.encode("utf-8"))


def unwrap_data_key(wrapped: bytes, recipient: ec.EllipticCurvePrivateKey, entity: str) -> bytes:
    return cipher.open_sealed(recipient, wrapped, context=_WRAP_CONTEXT, aad=entity.encode("utf-8"))


def normalise(value: str) -> str:
    """NFKC folds full-width digits and letters; upper-case so that an ID's `x` matches `X`."""
    return unicodedata.normalize("NFKC", value).strip().upper()


def lookup_hash(lookup_key: bytes, kind: str, value: str) -> str:
    """A keyed hash for exact-match search; `kind` keeps a name from matching an ID number."""
    message = f"{kind}\x00{normalise(value)}".encode()
    return hmac.new(lookup_key, message, hashlib.sha256).hexdigest()


def encrypt_bytes(data_key: bytes, entity: str, name: str, data: bytes) -> bytes:
    """A file (a material scan) under the entity's data key, bound to the entity and the file's name."""
    nonce = os.urandom(12)
    return nonce + AESGCM(data_key).encrypt(nonce, data, _aad(entity, name))


def decrypt_bytes(data_key: bytes, entity: str, name: str, sealed: bytes) -> bytes:
    try:
        return AESGCM(data_key).decrypt(sealed[:12], sealed[12:], _aad(entity, name))
    except (ValueError, InvalidTag) as exc:
        raise CipherError(f"file {name} of {entity} cannot be decrypted") from exc
