"""Sync bundles: a request's signed headers and sealed body in one file, for a USB stick, then its scans.

A bundle carries the same payloads as the HTTP requests, signed the same way and sealed to the
recipient, so a lost stick reveals nothing and an altered one is refused. The signed path names
the recipient installation: a bundle cannot be imported elsewhere. Scans follow the body, each
sealed on its own, so that neither side holds a stick's worth of them in memory; the signed body
names each by its hash, which vouches for it. No I/O of its own: it reads and writes the streams
it is given.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.hazmat.primitives.asymmetric import ec

from . import canonical, cipher
from .errors import CipherError, EncodingError, RequestRefused
from .request import BUNDLE_SCAN_CONTEXT, is_number

MAGIC = b"OTB2\n"  # headers (with the body's length), the sealed body, then each scan sealed on its own
MAGIC_V1 = b"OTB1\n"  # written before scans travelled by stick: headers, then the sealed body to the end
TO = "X-OneTrip-To"  # in clear, for a plain refusal; the signed path names the recipient too
LENGTH = "X-OneTrip-Length"  # in clear: a wrong one fails the body's signed digest
_MAX_HEADERS = 64 * 1024


@dataclass(frozen=True)
class Bundle:
    headers: dict[str, str]
    body: bytes
    scans: BinaryIO | None  # where the scans follow the body; None for a version-1 bundle, which has none


def bundle_path(recipient_installation: str) -> str:
    return f"bundle/{recipient_installation}"


def write(out: BinaryIO, headers: dict[str, str], body: bytes, *, to: str) -> None:
    out.write(MAGIC + canonical.encode({**headers, TO: to, LENGTH: str(len(body))}) + b"\n")
    out.write(body)


def write_scan(out: BinaryIO, recipient: ec.EllipticCurvePublicKey, data: bytes, *, nonce: str, digest: str) -> None:
    """One scan after the body, as stored (already encrypted under its application's key), sealed again
    to the recipient and bound to this bundle and its name."""
    out.write(cipher.seal(recipient, data, context=BUNDLE_SCAN_CONTEXT, aad=_aad(nonce, digest)))


def addressed_to(headers: dict[str, str], installation: str) -> None:
    if headers.get(TO) != installation:
        raise RequestRefused(f"这个同步包是写给安装 {headers.get(TO)} 的，不是本机：请在收件的节点导入")


def read(source: BinaryIO) -> Bundle:
    """The headers and the body; the scans are left in `source` for `scans`, so a stick is read once (`read_scans`)."""
    magic = source.read(len(MAGIC))
    if magic not in (MAGIC, MAGIC_V1):
        raise RequestRefused("这不是 OneTrip 同步包")
    line = source.readline(_MAX_HEADERS)
    try:
        headers = canonical.decode(line[:-1]) if line.endswith(b"\n") else None
    except EncodingError:
        headers = None
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise RequestRefused("同步包已损坏：签名头无法读取")
    if magic == MAGIC_V1:
        return Bundle(headers, source.read(), None)
    length = headers.get(LENGTH, "")
    if not is_number(length):
        raise RequestRefused("同步包已损坏：签名头无法读取")
    return Bundle(headers, source.read(int(length)), source)  # a short body fails its signed digest


def read_scans(
    bundle: Bundle, key: ec.EllipticCurvePrivateKey, nonce: str, listed: Sequence[tuple[str, int]]
) -> Iterator[tuple[str, bytes]]:
    """Each scan the signed body lists, as (name, bytes as stored), opened and checked against its name;
    a missing, altered or extra byte refuses the bundle."""
    if bundle.scans is None:
        if listed:
            raise RequestRefused("同步包已损坏：清单列出的扫描件不在包中")
        return
    for digest, size in listed:
        sealed = bundle.scans.read(size + cipher.OVERHEAD)
        if len(sealed) != size + cipher.OVERHEAD:
            raise RequestRefused("同步包不完整：扫描件被截断，可能拷贝时未写完：请重新导出")
        try:
            data = cipher.open_sealed(key, sealed, context=BUNDLE_SCAN_CONTEXT, aad=_aad(nonce, digest))
        except CipherError as exc:
            raise RequestRefused("同步包中的扫描件已被改动或损坏：整个包不予导入") from exc
        if hashlib.sha256(data).hexdigest() != digest:
            raise RequestRefused("同步包中的扫描件与其签名的摘要不符：整个包不予导入")
        yield digest, data
    if bundle.scans.read(1):
        raise RequestRefused("同步包末尾有多余的数据：可能被改动，不予导入")


def _aad(nonce: str, digest: str) -> bytes:
    return f"{nonce}|{digest}".encode("ascii")
