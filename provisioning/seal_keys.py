"""Seal keys at rest: one file per seal in `keys/seals/`, 0600, its private key encrypted under a PIN.

A seal key is made on the PC that holds the seal and never leaves it. Unlike the installation's
keys it needs a person to unlock it, so a copied disk does not carry a usable seal: the PIN goes
through scrypt (about 16 MB and 50 ms per try) into an AES-256-GCM key. The public key is kept in
clear beside it, so a certificate can be matched to its key without the PIN. Five wrong PINs in a
row lock the seal for a quarter of an hour: guessing a six-digit PIN at the window takes years.

Once a PIN has opened a key, the key stays open in this process for a few minutes (`SESSION`), as a
smart card stays open after its PIN: the holder still types the PIN for every use, every try still counts
toward the lock, but a right PIN is checked against a keyed hash held only in memory (its key made at
start, never written) instead of going through scrypt again. A seal at the window is used again and again
within minutes, and scrypt is a third of a sealing's time on an old PC. The file on disk is as strong as
before; what an attacker gains from this is only what reading the process's memory already gave.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from provisioning.errors import ProvisioningError
from provisioning.lockout import Attempt, count_attempt, minutes_left
from storage.database import write_transaction
from storage.models import SealLock, upsert
from sync.keys import write_secret

SEAL_KEYS = "keys/seals"
PIN_MIN = 6
PIN_TRIES = 5
PIN_LOCK = dt.timedelta(minutes=15)
_N, _R, _P = 2**14, 8, 1
_AAD = b"onetrip/seal-key/v1|"
SESSION = dt.timedelta(minutes=10)  # how long a key stays open after its PIN last opened it


@dataclass(frozen=True)
class _Opened:
    key: ec.EllipticCurvePrivateKey
    verifier: bytes  # HMAC of the PIN under `_SESSION_KEY`
    stamp: tuple[int, int, int]  # the key file's (inode, mtime, size): a new PIN or a new file closes the session
    until: dt.datetime  # UTC, naive


_SESSION_KEY = os.urandom(32)  # lives and dies with the process
_opened: dict[tuple[str, str], _Opened] = {}
_opened_lock = threading.Lock()


class SealKeyRefused(ProvisioningError):
    """A wrong PIN, a missing key file, or a PIN too short to set."""

    code = "seal_key_refused"


def key_path(data_dir: Path, seal_id: str) -> Path:
    return Path(data_dir) / SEAL_KEYS / f"{seal_id}.json"


def _derive(pin: str, kdf: dict) -> bytes:
    """The file's own parameters, so that a later, costlier setting still opens older files."""
    salt = bytes.fromhex(kdf["salt"])
    return hashlib.scrypt(pin.encode("utf-8"), salt=salt, n=kdf["n"], r=kdf["r"], p=kdf["p"], dklen=32)


def _public_der(public: ec.EllipticCurvePublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def create_seal_key(data_dir: Path, seal_id: str, pin: str) -> ec.EllipticCurvePrivateKey:
    """A new ECDSA P-256 key for a seal (PDF validators and poppler check P-256), written under `pin`."""
    _check_new_pin(pin)
    path = key_path(data_dir, seal_id)
    if path.exists():
        raise SealKeyRefused(f"本机已有印章 {seal_id} 的密钥：一枚印章只申请一次")
    key = ec.generate_private_key(ec.SECP256R1())
    write_secret(path, _locked(seal_id, key, pin))
    return key


def change_pin(data_dir: Path, seal_id: str, old_pin: str, new_pin: str, now: dt.datetime) -> None:
    """The holder sets a new PIN: the old one must open the key (a wrong one counts toward the lock), and
    the same key is written again under the new one, replacing the file only once it is whole on disk."""
    _check_new_pin(new_pin)
    if new_pin == old_pin:
        raise SealKeyRefused("新口令不能与原口令相同")
    key = unlock_seal_key(data_dir, seal_id, old_pin, now)
    path = key_path(data_dir, seal_id)
    staged = path.with_name(path.name + ".new")
    staged.unlink(missing_ok=True)
    write_secret(staged, _locked(seal_id, key, new_pin))
    os.replace(staged, path)


def _check_new_pin(pin: str) -> None:
    if len(pin) < PIN_MIN:
        raise SealKeyRefused(f"印章口令至少 {PIN_MIN} 位")


def _locked(seal_id: str, key: ec.EllipticCurvePrivateKey, pin: str) -> bytes:
    """The key file's content: the private key under `pin` (fresh salt and nonce), the public key in clear."""
    kdf = {"name": "scrypt", "n": _N, "r": _R, "p": _P, "salt": os.urandom(16).hex()}
    nonce = os.urandom(12)
    public = _public_der(key.public_key())
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    sealed = AESGCM(_derive(pin, kdf)).encrypt(nonce, der, _AAD + seal_id.encode() + public)
    document = {"v": 1, "kdf": kdf, "nonce": nonce.hex(), "public": public.hex(), "ciphertext": sealed.hex()}
    return json.dumps(document).encode("ascii")


def _read(data_dir: Path, seal_id: str) -> dict:
    try:
        return json.loads(key_path(data_dir, seal_id).read_text("ascii"))
    except FileNotFoundError as exc:
        raise SealKeyRefused(f"本机没有印章 {seal_id} 的密钥：印章只能在申请它的电脑上使用") from exc


def seal_public_key(data_dir: Path, seal_id: str) -> ec.EllipticCurvePublicKey:
    return serialization.load_der_public_key(bytes.fromhex(_read(data_dir, seal_id)["public"]))


def unlock_seal_key(data_dir: Path, seal_id: str, pin: str, now: dt.datetime) -> ec.EllipticCurvePrivateKey:
    """The seal's private key, if `pin` opens it and the seal is not locked by wrong PINs (`now`: UTC).
    The try is counted before the PIN goes through scrypt, so parallel guesses cannot outrun the lock."""
    now = now.replace(tzinfo=None)
    document = _read(data_dir, seal_id)
    attempt = _count_try(seal_id, now)
    if not attempt.allowed:
        raise SealKeyRefused(
            f"印章口令连续输错 {PIN_TRIES} 次，已锁定：请 {minutes_left(attempt.locked_until, now)} 分钟后再试"
        )
    held, verifier = (str(data_dir), seal_id), _verify(seal_id, pin)
    with _opened_lock:
        opened = _opened.get(held)
    stamp = _stamp(data_dir, seal_id)
    if opened and opened.stamp == stamp and now < opened.until and hmac.compare_digest(opened.verifier, verifier):
        private = opened.key
    else:
        private = _open(document, seal_id, pin, attempt)
    with _opened_lock:
        _opened[held] = _Opened(private, verifier, stamp, now + SESSION)
    with write_transaction():
        SealLock.delete().where(SealLock.seal_id == seal_id).execute()
    return private


def _verify(seal_id: str, pin: str) -> bytes:
    return hmac.new(_SESSION_KEY, f"{seal_id}\0{pin}".encode(), hashlib.sha256).digest()


def _stamp(data_dir: Path, seal_id: str) -> tuple[int, int, int]:
    info = key_path(data_dir, seal_id).stat()
    return info.st_ino, info.st_mtime_ns, info.st_size


def _open(document: dict, seal_id: str, pin: str, attempt: Attempt) -> ec.EllipticCurvePrivateKey:
    """The key file opened by the PIN through scrypt; a wrong PIN says how many tries are left."""
    key = _derive(pin, document["kdf"])
    aad = _AAD + seal_id.encode() + bytes.fromhex(document["public"])
    try:
        der = AESGCM(key).decrypt(bytes.fromhex(document["nonce"]), bytes.fromhex(document["ciphertext"]), aad)
    except InvalidTag as exc:
        left = (
            f"已锁定 {PIN_LOCK.seconds // 60} 分钟"
            if attempt.locked_until
            else f"再错 {PIN_TRIES - attempt.failures} 次将锁定"
        )
        raise SealKeyRefused(f"印章口令不正确（{left}）") from exc
    return serialization.load_der_private_key(der, password=None)


def _count_try(seal_id: str, now: dt.datetime) -> Attempt:
    """Count one PIN try of the seal, in a write transaction of its own."""
    with write_transaction():
        lock = SealLock.get_or_none(SealLock.seal_id == seal_id)
        failures, locked_until = (lock.failures, lock.locked_until) if lock is not None else (0, None)
        attempt = count_attempt(failures, locked_until, now, limit=PIN_TRIES, lock=PIN_LOCK)
        if attempt.allowed:
            upsert(SealLock, seal_id=seal_id, failures=attempt.failures, locked_until=attempt.locked_until)
    return attempt
