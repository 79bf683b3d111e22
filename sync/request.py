"""Signed request headers and sealed bodies: who sent a sync request, and nothing readable on the wire.

Pure. The signature covers the method, path, station, installation, time, a nonce and
the body's digest, under a domain prefix of its own; the body is compressed, then
sealed to the recipient's key-agreement key with the request's nonce as associated
data, so a body cannot be moved to another request. From protocol 3 the answer is sealed
with the key the request's own sealing agreed (`cipher.seal_replying`): one key agreement
a request instead of two, at the hub and at the station.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec

from . import canonical, cipher
from .errors import CipherError, RequestRefused, SignatureError, UnsupportedProtocol
from .event import is_name
from .keys import SigningKey, VerifyingKey

REQUEST_DOMAIN = b"onetrip/request/v1\n"
PREFIX = "X-OneTrip-"
# The protocol a request speaks. 2 adds the anti-entropy digest (docs/protocol.md §9.9), 3 answers with the
# request's own key (§9.6); a request without the header speaks 1. Hubs answer this protocol and the one before,
# so that a fleet upgrades station by station.
PROTOCOL, PROTOCOLS = 3, (2, 3)
REPLYING = 3  # the first protocol whose answers are sealed with the request's key
PROTOCOL_HEADER = PREFIX + "Protocol"
FIELDS = ("Station", "Installation", "Time", "Nonce", "Digest", "Signature")
CERTIFICATES = PREFIX + "Certificates"  # base64 DER, comma-separated: sent when the parent does not know us yet
# What a sealed body is for: a body opens only under the context it was sealed with.
PUSH_CONTEXT, PULL_CONTEXT, ANSWER_CONTEXT = b"sync/push", b"sync/pull", b"sync/answer"
BUNDLE_CONTEXT = b"sync/bundle"
BUNDLE_SCAN_CONTEXT = b"sync/bundle-scan"  # each scan after a bundle's body
BLOB_CONTEXT = b"sync/blob"
DIGEST_CONTEXT = b"sync/digest"
MAX_BODY_BYTES = 64 * 1024 * 1024  # decompressed: a batch is bounded far below this; a bomb is not
_HEX = re.compile(r"[0-9a-f]+")
_NUMBER = re.compile(r"[0-9]{1,15}")


@dataclass(frozen=True)
class SignedRequest:
    method: str
    path: str
    station: str
    installation: str
    time_ms: int
    nonce: str
    digest: str
    signature: bytes
    protocol: int = PROTOCOL

    def message(self) -> bytes:
        claims = {
            "method": self.method,
            "path": self.path,
            "station": self.station,
            "installation": self.installation,
            "time_ms": self.time_ms,
            "nonce": self.nonce,
            "digest": self.digest,
        }
        if self.protocol > 1:  # signed from 2 on: a request cannot be downgraded on the way
            claims["protocol"] = self.protocol
        return REQUEST_DOMAIN + canonical.encode(claims)

    def verify(self, key: VerifyingKey) -> None:
        try:
            key.verify(self.signature, self.message())
        except SignatureError as exc:
            raise RequestRefused("请求签名无效：不是由该安装的密钥签署，或在途中被改动") from exc


def sign_request(
    key: SigningKey,
    *,
    method: str,
    path: str,
    station: str,
    installation: str,
    time_ms: int,
    nonce: str,
    body: bytes,
    protocol: int = PROTOCOL,
) -> dict[str, str]:
    unsigned = SignedRequest(method, path, station, installation, time_ms, nonce, digest(body), b"", protocol)
    signature = key.sign(unsigned.message())
    headers = {
        PREFIX + "Station": station,
        PREFIX + "Installation": installation,
        PREFIX + "Time": str(time_ms),
        PREFIX + "Nonce": nonce,
        PREFIX + "Digest": unsigned.digest,
        PREFIX + "Signature": signature.hex(),
    }
    if protocol > 1:
        headers[PROTOCOL_HEADER] = str(protocol)
    return headers


def read_request(headers: Mapping[str, str], method: str, path: str, body: bytes) -> SignedRequest:
    """The request's claims, well formed and matching its body; the signature is checked by `verify`."""
    values = {name: headers.get(PREFIX + name) for name in FIELDS}
    if any(v is None for v in values.values()):
        raise RequestRefused("请求缺少签名头：只接受 OneTrip 节点签署的同步请求")
    time_text, nonce, signature = values["Time"], values["Nonce"], values["Signature"]
    if not (is_name(values["Station"]) and is_name(values["Installation"]) and is_number(time_text)):
        raise RequestRefused("请求签名头格式无效")
    if not (is_nonce(nonce) and _HEX.fullmatch(signature) and len(signature) % 2 == 0):
        raise RequestRefused("请求签名头格式无效")
    if values["Digest"] != digest(body):
        raise RequestRefused("请求内容与签名的摘要不符：可能在途中被截断或改动")
    protocol = _protocol(headers.get(PROTOCOL_HEADER, "1"))
    return SignedRequest(
        method,
        path,
        values["Station"],
        values["Installation"],
        int(time_text),
        nonce,
        values["Digest"],
        bytes.fromhex(signature),
        protocol,
    )


def is_nonce(text: str) -> bool:
    """A request's nonce, as a sender makes it and a parent gives one for a retry: 16 to 64 lowercase hex digits."""
    return 16 <= len(text) <= 64 and _HEX.fullmatch(text) is not None


def is_number(text: str) -> bool:
    """Whether a header's text is a count or a time: ASCII digits only, and few enough for a 64-bit column.
    `str.isdigit` also says yes to "¹²³", which `int` refuses, and to "٣", which it takes."""
    return _NUMBER.fullmatch(text) is not None


def _protocol(text: str) -> int:
    if not (is_number(text) and int(text) in PROTOCOLS):
        supported = "、".join(str(p) for p in PROTOCOLS)
        raise UnsupportedProtocol(
            f"对方使用同步协议第 {text[:8]} 版，本节点只支持第 {supported} 版：请把版本较旧的一方升级到同一版 OneTrip"
        )
    return int(text)


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def seal_body(recipient: ec.EllipticCurvePublicKey, plaintext: bytes, *, context: bytes, nonce: str) -> bytes:
    return cipher.seal(recipient, zlib.compress(plaintext, 6), context=context, aad=nonce.encode("ascii"))


def seal_request_body(
    recipient: ec.EllipticCurvePublicKey, plaintext: bytes, *, context: bytes, nonce: str
) -> tuple[bytes, bytes]:
    """`seal_body`, and the key its answer is sealed with (`open_answer`)."""
    compressed = zlib.compress(plaintext, 6)
    return cipher.seal_replying(recipient, compressed, context=context, aad=nonce.encode("ascii"))


def open_body(key: ec.EllipticCurvePrivateKey, sealed: bytes, *, context: bytes, nonce: str) -> bytes:
    return _inflated(cipher.open_sealed(key, sealed, context=context, aad=nonce.encode("ascii")))


def open_request_body(
    key: ec.EllipticCurvePrivateKey, sealed: bytes, *, context: bytes, nonce: str
) -> tuple[bytes, bytes]:
    """`open_body`, and the key to seal its answer with (`seal_answer`)."""
    compressed, answer_key = cipher.open_replying(key, sealed, context=context, aad=nonce.encode("ascii"))
    return _inflated(compressed), answer_key


def seal_answer(answer_key: bytes, plaintext: bytes, *, nonce: str) -> bytes:
    return cipher.seal_reply(answer_key, zlib.compress(plaintext, 6), aad=nonce.encode("ascii"))


def open_answer(answer_key: bytes, sealed: bytes, *, nonce: str) -> bytes:
    return _inflated(cipher.open_reply(answer_key, sealed, aad=nonce.encode("ascii")))


def _inflated(compressed: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        plaintext = inflater.decompress(compressed, MAX_BODY_BYTES)
    except zlib.error as exc:
        raise CipherError("请求内容无法解压") from exc
    if inflater.unconsumed_tail or not inflater.eof:
        raise CipherError("请求内容解压后过大或不完整")
    return plaintext


def seal_and_sign(
    key: SigningKey,
    recipient: ec.EllipticCurvePublicKey,
    plaintext: bytes,
    *,
    path: str,
    context: bytes,
    station: str,
    installation: str,
    time_ms: int,
    nonce: str,
) -> tuple[dict[str, str], bytes]:
    """A request or bundle ready to travel: the sealed body and the headers that sign it."""
    body = seal_body(recipient, plaintext, context=context, nonce=nonce)
    headers = sign_request(
        key,
        method="POST",
        path=path,
        station=station,
        installation=installation,
        time_ms=time_ms,
        nonce=nonce,
        body=body,
    )
    return headers, body
