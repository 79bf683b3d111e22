"""Material scans over sync: blobs go after their events' metadata, content-addressed, in chunks.

Up, a node asks its parent which of the scans it holds the parent lacks, and sends those in chunks the
parent appends at the offset it already has, so a cut transfer resumes where it stopped; the parent
keeps a blob only when its bytes hash to its name. Down, a node fetches, the same way, the scans of
attachments it has the events of but not the bytes (a township deciding, a replaced PC restored). A
blob is accepted or served only for an attachment of an application of the requester's station or a
station below it. Scans travel as they are stored: encrypted under their application's data key.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from provisioning.authority import above
from provisioning.certs import Binding
from storage.errors import StorageError
from storage.models import Application, Attachment, Station
from sync import canonical
from sync.errors import RequestRefused
from sync.request import BLOB_CONTEXT

from . import downstream
from .materials import MAX_SCAN_BYTES

if TYPE_CHECKING:
    from .runtime import Node

PATH = "/api/v1/sync/blobs"
CHUNK = 256 * 1024
ASK_AT_ONCE = 200
LARGEST = MAX_SCAN_BYTES + 4096  # a scan as stored: the limit plus the envelope's overhead


# -- the parent's side ---------------------------------------------------------------------


def serve(node: Node, headers: Mapping[str, str], path: str, body: bytes) -> bytes:
    """Answer a child's `want` (which of these do you lack), `put` (a chunk at an offset) or `get`."""
    request, child = downstream.authenticate(node, headers, path, body)
    asked = canonical.decode(downstream.opened(node, body, BLOB_CONTEXT, request))
    op = asked.get("op") if isinstance(asked, dict) else None
    if op == "want":
        digests = [d for d in asked.get("digests", [])[:ASK_AT_ONCE] if isinstance(d, str)]
        answer = {"missing": [d for d in digests if _named(d) and not node.blobs.has(d)]}
    elif op == "put":
        answer = {"have": _receive(node, child, asked)}
    elif op == "get":
        answer = _send(node, child, asked)
    else:
        raise RequestRefused("不认识的扫描件请求")
    return downstream.answer_to(child, canonical.encode(answer), request)


def _named(digest: str) -> bool:
    try:
        return digest == digest.lower() and len(digest) == 64 and int(digest, 16) >= 0
    except ValueError:
        return False


def _in_scope(child: Binding, digest: str) -> bool:
    """Whether the blob belongs to an attachment of an application of the child's station or one below it."""
    numbers = Attachment.select(Attachment.number).where(Attachment.blob == digest)
    stations = Application.select(Application.station).where(Application.number.in_(numbers)).distinct()
    for (code,) in stations.tuples():
        station = Station.get_or_none(Station.code == code)
        if code == child.station or (
            station is not None and above(child.level, child.region, station.level, station.region)
        ):
            return True
    return False


def _receive(node: Node, child: Binding, asked: dict) -> int:
    digest, offset, total = asked.get("digest"), asked.get("offset"), asked.get("total")
    if not (isinstance(digest, str) and _named(digest)) or not _in_scope(child, digest):
        raise RequestRefused("这份扫描件不属于发送方辖区内的办件（或其登记尚未同步到上级）：拒收")
    if node.blobs.has(digest):
        return total
    if type(total) is not int or not 0 < total <= LARGEST or type(offset) is not int:
        raise RequestRefused("扫描件大小不对：拒收")
    partial = _partial(node, digest)
    held = partial.stat().st_size if partial.exists() else 0
    if offset != held:
        return held  # the child resends from what arrived
    data = base64.b64decode(asked.get("data", ""))
    if held + len(data) > total:
        raise RequestRefused("扫描件超出声明的大小：拒收")
    with partial.open("ab") as out:
        out.write(data)
    if held + len(data) == total:
        try:
            with partial.open("rb") as source:
                node.blobs.put_stream(source, expected=digest)
        except StorageError as exc:
            raise RequestRefused("扫描件收齐后校验不符，已丢弃：请重新发送") from exc
        finally:
            partial.unlink(missing_ok=True)
    return held + len(data)


def _send(node: Node, child: Binding, asked: dict) -> dict:
    digest, offset = asked.get("digest"), asked.get("offset")
    if not (isinstance(digest, str) and _named(digest)) or not _in_scope(child, digest):
        raise RequestRefused("这份扫描件不属于请求方辖区内的办件：不予提供")
    if not node.blobs.has(digest) or type(offset) is not int or offset < 0:
        return {"missing": True}
    data = node.blobs.get(digest)  # verified against its name on every read
    return {"total": len(data), "data": base64.b64encode(data[offset : offset + CHUNK]).decode("ascii")}


def _partial(node: Node, digest: str) -> Path:
    folder = node.blobs.root / "partial"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / digest


# -- the child's side ----------------------------------------------------------------------


def exchange(node: Node, parent) -> tuple[int, int]:
    """Send the parent the scans it lacks and fetch those we lack; (sent, fetched)."""
    referenced = {d for (d,) in Attachment.select(Attachment.blob).distinct().tuples()}
    held = {d for d in referenced if node.blobs.has(d)}
    unsent = sorted(d for d in held if not _sent_mark(node, d).exists())
    sent = 0
    for start in range(0, len(unsent), ASK_AT_ONCE):
        batch = unsent[start : start + ASK_AT_ONCE]
        for digest in _call(parent, {"op": "want", "digests": batch})["missing"]:
            _upload(node, parent, digest)
            sent += 1
        for digest in batch:
            _sent_mark(node, digest).touch()
    fetched = sum(_download(node, parent, digest) for digest in sorted(referenced - held))
    return sent, fetched


def _call(parent, body: dict) -> dict:
    return canonical.decode(parent.call(PATH, BLOB_CONTEXT, canonical.encode(body)))


def _upload(node: Node, parent, digest: str) -> None:
    data = node.blobs.get(digest)
    offset = 0
    while offset < len(data):
        chunk = base64.b64encode(data[offset : offset + CHUNK]).decode("ascii")
        offset = _call(parent, {"op": "put", "digest": digest, "offset": offset, "total": len(data), "data": chunk})[
            "have"
        ]


def _download(node: Node, parent, digest: str) -> bool:
    partial = _partial(node, digest)
    while True:
        held = partial.stat().st_size if partial.exists() else 0
        answer = _call(parent, {"op": "get", "digest": digest, "offset": held})
        if answer.get("missing"):
            return False  # the parent does not hold it either (yet)
        with partial.open("ab") as out:
            out.write(base64.b64decode(answer["data"]))
        if partial.stat().st_size >= answer["total"]:
            break
    try:
        with partial.open("rb") as source:
            node.blobs.put_stream(source, expected=digest)
    finally:
        partial.unlink(missing_ok=True)
    _sent_mark(node, digest).touch()  # the parent has it: no need to offer it back
    return True


def _sent_mark(node: Node, digest: str) -> Path:
    folder = node.blobs.root / "sent"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / digest
