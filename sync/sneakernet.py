"""Sync bundles: a request's signed headers and sealed body in one file, for a USB stick.

Pure. A bundle carries the same payloads as the HTTP requests, signed the same way and
sealed to the recipient, so a lost stick reveals nothing and an altered one is refused.
The signed path names the recipient installation: a bundle cannot be imported elsewhere.
"""

from __future__ import annotations

from . import canonical
from .errors import EncodingError, RequestRefused

MAGIC = b"OTB1\n"
TO = "X-OneTrip-To"  # in clear, for a plain refusal; the signed path names the recipient too


def bundle_path(recipient_installation: str) -> str:
    return f"bundle/{recipient_installation}"


def pack(headers: dict[str, str], body: bytes, *, to: str) -> bytes:
    return MAGIC + canonical.encode({**headers, TO: to}) + b"\n" + body


def addressed_to(headers: dict[str, str], installation: str) -> None:
    if headers.get(TO) != installation:
        raise RequestRefused(f"这个同步包是写给安装 {headers.get(TO)} 的，不是本机：请在收件的节点导入")


def unpack(data: bytes) -> tuple[dict[str, str], bytes]:
    if not data.startswith(MAGIC):
        raise RequestRefused("这不是 OneTrip 同步包")
    end = data.find(b"\n", len(MAGIC))
    try:
        headers = canonical.decode(data[len(MAGIC) : end]) if end > 0 else None
    except EncodingError:
        headers = None
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise RequestRefused("同步包已损坏：签名头无法读取")
    return headers, data[end + 1 :]
