"""Material scans over sync: blobs go after their events' metadata, content-addressed, in chunks.

Up, a node asks its parent which of the scans it holds the parent lacks, and sends those in chunks the
parent appends at the offset it already has, so a cut transfer resumes where it stopped; the parent
keeps a blob only when its bytes hash to its name. Down, a node fetches, the same way, the scans of
attachments it has the events of but not the bytes (a township deciding, a replaced PC restored). A
blob is accepted or served only for an attachment of an application of the requester's station or a
station below it. Scans travel as they are stored: encrypted under their application's data key.
By USB stick, the same rules choose what a bundle and its return bundle carry after their events.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import BinaryIO

import peewee as pw
from cryptography.hazmat.primitives.asymmetric import ec

from node.cases.events import ATTACHED
from node.cases.retention import PURGED
from node.context import Context
from node.rules.materials import MAX_SCAN_BYTES
from provisioning.authority import above
from provisioning.certs import Binding
from storage.blobs import Staging, is_blob_name
from storage.errors import BlobCorrupt, DiskFull, disk_full_translated
from storage.models import Application, Attachment, Station
from sync import canonical, sneakernet
from sync.batch import Batch
from sync.errors import RequestRefused
from sync.event import parse_event
from sync.request import BLOB_CONTEXT

PATH = "/api/v1/sync/blobs"
CHUNK = 256 * 1024
ASK_AT_ONCE = 200
LARGEST = MAX_SCAN_BYTES + 4096  # a scan as stored: the limit plus the envelope's overhead


# -- the parent's side ---------------------------------------------------------------------


def answer(node: Context, child: Binding, asked) -> dict:
    """The answer to a child's `want` (which of these do you lack), `put` (a chunk at an offset) or `get`."""
    op = asked.get("op") if isinstance(asked, dict) else None
    if op == "want":
        asked_for = asked.get("digests")
        digests = [d for d in asked_for[:ASK_AT_ONCE] if isinstance(d, str)] if isinstance(asked_for, list) else []
        return {"missing": [d for d in digests if is_blob_name(d) and not node.blobs.has(d)]}
    if op == "put":
        return {"have": _receive(node, child, asked)}
    if op == "get":
        return _send(node, child, asked)
    raise RequestRefused("不认识的扫描件请求")


def _in_scope(child: Binding, digest: str) -> bool:
    """Whether the blob belongs to an attachment of an application of the child's station or one below it, or
    of a 跨区域通办 case the child (a county) handles."""
    numbers = Attachment.select(Attachment.number).where(Attachment.blob == digest)
    cases = Application.select(Application.station, Application.handler).where(Application.number.in_(numbers))
    for code, handler in cases.distinct().tuples():
        station = Station.get_or_none(Station.code == code)
        if (
            code == child.station
            or (station is not None and above(child.level, child.region, station.level, station.region))
            or (child.level == "county" and handler == child.region)
        ):
            return True
    return False


def _receive(node: Context, child: Binding, asked: dict) -> int:
    digest, offset, total = asked.get("digest"), asked.get("offset"), asked.get("total")
    if not (isinstance(digest, str) and is_blob_name(digest)) or not _in_scope(child, digest):
        raise RequestRefused("这份扫描件不属于发送方辖区内的办件（或其登记尚未同步到上级）：拒收")
    if node.blobs.has(digest):
        return total
    if type(total) is not int or not 0 < total <= LARGEST or type(offset) is not int:
        raise RequestRefused("扫描件大小不对：拒收")
    partial = _partial(node, digest)
    held = partial.stat().st_size if partial.exists() else 0
    if offset != held:
        return held  # the child resends from what arrived
    try:
        data = base64.b64decode(asked.get("data", ""), validate=True)
    except (TypeError, ValueError) as exc:  # not a string, or not base64
        raise RequestRefused("扫描件分块不是有效的 base64：拒收") from exc
    if held + len(data) > total:
        raise RequestRefused("扫描件超出声明的大小：拒收")
    _append(partial, data)
    if held + len(data) == total:
        try:
            with partial.open("rb") as source:
                node.blobs.put_stream(source, expected=digest, size_bytes=total)
        except BlobCorrupt as exc:
            raise RequestRefused("扫描件收齐后校验不符，已丢弃：请重新发送") from exc
        finally:
            partial.unlink(missing_ok=True)
    return held + len(data)


def _send(node: Context, child: Binding, asked: dict) -> dict:
    digest, offset = asked.get("digest"), asked.get("offset")
    if not (isinstance(digest, str) and is_blob_name(digest)) or not _in_scope(child, digest):
        raise RequestRefused("这份扫描件不属于请求方辖区内的办件：不予提供")
    if not node.blobs.has(digest) or type(offset) is not int or offset < 0:
        return {"missing": True}
    data = node.blobs.get(digest)  # verified against its name on every read
    return {"total": len(data), "data": base64.b64encode(data[offset : offset + CHUNK]).decode("ascii")}


def _append(partial: Path, data: bytes) -> None:
    """Add a chunk to a scan in transit, whole or not at all: on a full disk the file is cut back to what
    it held, so the offset both sides resume from stays true."""
    held = partial.stat().st_size if partial.exists() else 0
    try:
        with disk_full_translated(partial.parent, len(data)), partial.open("ab") as out:
            out.write(data)
            out.flush()
    except DiskFull:
        with partial.open("ab") as out:
            out.truncate(held)
        raise


def _partial(node: Context, digest: str) -> Path:
    folder = node.blobs.root / "partial"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / digest


# -- the child's side ----------------------------------------------------------------------


def exchange(node: Context, parent) -> tuple[int, int]:
    """Send the parent the scans it lacks and fetch those we lack; (sent, fetched)."""
    unsent, lacking = inventory(node)
    sent = 0
    for start in range(0, len(unsent), ASK_AT_ONCE):
        batch = unsent[start : start + ASK_AT_ONCE]
        for digest in _call(parent, {"op": "want", "digests": batch})["missing"]:
            _upload(node, parent, digest)
            sent += 1
        mark_sent(node, batch)
    fetched = sum(_download(node, parent, digest) for digest in lacking)
    return sent, fetched


def inventory(node: Context) -> tuple[list[str], list[str]]:
    """The scans our attachments name that the parent may lack (held here, not marked sent), and those we
    lack. A scan purged with its application's personal data is not lacking: it is never fetched again."""
    referenced = {d for (d,) in Attachment.select(Attachment.blob).distinct().tuples()}
    held = {d for d in referenced if node.blobs.has(d)}
    wanted = {d for (d,) in _unpurged(Attachment.select(Attachment.blob).distinct()).tuples()}
    return sorted(d for d in held if not _sent_mark(node, d).exists()), sorted(wanted - held)


def _unpurged(query):
    """Attachments of applications whose personal data this node has not purged (or not yet seen)."""
    return query.join(Application, pw.JOIN.LEFT_OUTER, on=(Attachment.number == Application.number)).where(
        Application.sealed.is_null() | (Application.sealed != PURGED)
    )


def _call(parent, body: dict) -> dict:
    return canonical.decode(parent.call(PATH, BLOB_CONTEXT, canonical.encode(body)))


def _upload(node: Context, parent, digest: str) -> None:
    data = node.blobs.get(digest)
    offset = 0
    while offset < len(data):
        chunk = base64.b64encode(data[offset : offset + CHUNK]).decode("ascii")
        offset = _call(parent, {"op": "put", "digest": digest, "offset": offset, "total": len(data), "data": chunk})[
            "have"
        ]


def _download(node: Context, parent, digest: str) -> bool:
    partial = _partial(node, digest)
    while True:
        held = partial.stat().st_size if partial.exists() else 0
        answer = _call(parent, {"op": "get", "digest": digest, "offset": held})
        if answer.get("missing"):
            return False  # the parent does not hold it either (yet)
        _append(partial, base64.b64decode(answer["data"]))
        if partial.stat().st_size >= answer["total"]:
            break
    try:
        with partial.open("rb") as source:
            node.blobs.put_stream(source, expected=digest, size_bytes=answer["total"])
    finally:
        partial.unlink(missing_ok=True)
    mark_sent(node, [digest])  # the parent has it: no need to offer it back
    return True


def mark_sent(node: Context, digests) -> None:
    """Remember that the parent holds these (names from a return bundle included, hence the check)."""
    for digest in digests:
        if isinstance(digest, str) and is_blob_name(digest):
            _sent_mark(node, digest).touch()


def _sent_mark(node: Context, digest: str) -> Path:
    folder = node.blobs.root / "sent"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / digest


# -- by USB stick --------------------------------------------------------------------------
# The rules are those above: a bundle carries up the scans not marked sent, and the parent keeps
# one only for an attachment in the sender's scope, once the bundle's events are applied; the
# return bundle brings down, from the child's scope, those it lacks. Each is checked against the
# name the signed manifest gives it.


def listing(node: Context, digests: list[str]) -> list[list]:
    """The manifest's entries for the scans that follow a bundle's body: name and size as stored."""
    return [[digest, node.blobs.path(digest).stat().st_size] for digest in digests]


def write_carried(node: Context, out: BinaryIO, recipient: ec.EllipticCurvePublicKey, nonce: str, digests) -> None:
    """The scans after the body, one at a time: a stick's worth is never in memory at once."""
    for digest in digests:
        sneakernet.write_scan(out, recipient, node.blobs.get(digest), nonce=nonce, digest=digest)


def stage_carried(node: Context, staging: Staging, bundle: sneakernet.Bundle, nonce: str, manifest: dict) -> list[str]:
    """Open every scan a bundle carries and check it against its name before anything is applied (one
    altered byte refuses the whole bundle); stage those not held here. The names carried."""
    listed = manifest.get("scans", [])
    if not isinstance(listed, list) or not all(_entry(e) for e in listed):
        raise RequestRefused("同步包的扫描件清单无效")
    entries = [(digest, size) for digest, size in listed]
    for digest, data in sneakernet.read_scans(bundle, node.keys.agreement, nonce, entries):
        if not node.blobs.has(digest):
            staging.add(io.BytesIO(data), expected=digest, size_bytes=len(data))
    return [digest for digest, _ in entries]


def _entry(entry) -> bool:
    return (
        isinstance(entry, list)
        and len(entry) == 2
        and isinstance(entry[0], str)
        and is_blob_name(entry[0])
        and type(entry[1]) is int
        and 0 < entry[1] <= LARGEST
    )


def keep_in_scope(staging: Staging, child: Binding) -> None:
    """Place the staged scans of attachments in the child's scope, as `put` would take them; the rest go."""
    staging.place([digest for digest in staging.digests if _in_scope(child, digest)])


def for_child(node: Context, child: Binding, lacking, batches: list[Batch]) -> list[str]:
    """The scans a return bundle brings down: those the child said it lacks and those the attachments
    going down to it name, held here, and only within its scope, as `get` would serve them."""
    named = set(lacking) if isinstance(lacking, list) else set()
    for batch in batches:
        for _, raws in batch.runs:
            for raw in raws:
                event = parse_event(raw)
                if event.type == ATTACHED:
                    named.add(event.payload.get("blob"))
    wanted = (d for d in named if isinstance(d, str) and is_blob_name(d))
    return sorted(d for d in wanted if node.blobs.has(d) and _in_scope(child, d))
