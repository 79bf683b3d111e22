"""The parent's side of a link: authenticate a child's request, apply what it pushes, answer its pull.

Who the child is comes from the certificate its signature verifies against, never from
what the request says. A web view hands the raw body here and returns the sealed answer.
"""

from __future__ import annotations

import base64
import dataclasses
import secrets
from collections.abc import Mapping
from dataclasses import asdict
from typing import BinaryIO

from cryptography import x509

from node.context import Context
from node.link import health, scans
from node.link.watch import watch_of
from provisioning.authority import above
from provisioning.certs import SIGNING, Binding, binding_of
from provisioning.errors import CertificateRefused
from provisioning.scope import Scope
from provisioning.trust_events import adopt_certificate
from sync import canonical, delta, digest, nonces, sneakernet
from sync.batch import Batch, decode_batch, encode_batch, framed, unframed
from sync.errors import CipherError, ClockSkew, EncodingError, InstallationRevoked, RequestRefused, UnknownInstallation
from sync.event import parse_event
from sync.request import (
    ANSWER_CONTEXT,
    BLOB_CONTEXT,
    BUNDLE_CONTEXT,
    CERTIFICATES,
    DIGEST_CONTEXT,
    PREFIX,
    PULL_CONTEXT,
    PUSH_CONTEXT,
    REPLYING,
    SignedRequest,
    open_request_body,
    read_request,
    seal_and_sign,
    seal_answer,
    seal_body,
)


def authenticate(node: Context, headers: Mapping[str, str], path: str, body: bytes) -> tuple[SignedRequest, Binding]:
    """The verified request and its sender as certified; a replay, a stranger or a revoked PC is refused."""
    request = read_request(headers, "POST", path, body)
    sender = _sender(node, request, headers)
    memo = watch_of(node.events).contacts
    try:
        own_time = _check_freshness(node, request)
    except ClockSkew:
        health.contacted(node, sender, request, memo=memo)  # the one request that shows how wrong its clock is
        raise
    health.contacted(node, sender, request, own_time=own_time, memo=memo)
    return request, sender


def _sender(node: Context, request: SignedRequest, headers: Mapping[str, str]) -> Binding:
    """Who signed the request, as certified: a stranger, another station's claim or a revoked PC is refused."""
    if request.installation == node.identity.installation:
        raise RequestRefused("请求自称来自本机：已拒绝")
    watch_of(node.events).look()  # trust events since the last request (another process's too) are noted first
    trust = node.events.trust
    key = trust.verifying_key(request.installation)
    if key is None and headers.get(CERTIFICATES):
        _adopt_sent_certificates(node, headers[CERTIFICATES])
        key = trust.verifying_key(request.installation)
    if key is None:
        raise UnknownInstallation(f"本节点还不认识安装 {request.installation} 的证书")
    request.verify(key)
    sender = trust.binding(request.installation)
    if sender.station != request.station:
        raise RequestRefused(f"请求自称站点 {request.station}，但其证书属于 {sender.station}：已拒绝")
    if trust.is_revoked(request.installation):
        raise InstallationRevoked(f"安装 {request.installation}（{sender.name}）已被吊销：不再接收它的同步请求")
    ident = node.identity
    if not above(ident.level, ident.region, sender.level, sender.region):
        raise RequestRefused(f"{sender.name} 不是 {ident.name} 的下级站点，不能在此同步")
    return sender


def _adopt_sent_certificates(node: Context, header: str) -> None:
    """A child certified after our last pull sends its certificates: each must chain to our anchors,
    within its issuer's division, as any certificate from a feed must (signing before agreement)."""
    try:
        certs = [x509.load_der_x509_certificate(base64.b64decode(part)) for part in header.split(",")[:4]]
        with node.events.transaction():
            for cert in sorted(certs, key=lambda c: binding_of(c).use != SIGNING):
                adopt_certificate(cert)
    except (ValueError, CertificateRefused) as exc:
        raise RequestRefused(f"请求附带的证书不可信：{exc}") from exc
    finally:
        node.events.trust.forget()


def _check_freshness(node: Context, request: SignedRequest) -> bool:
    """Whether the request was signed with the sender's own time (rather than the time and nonce we gave
    it after a clock skew: that retry signs our time, so it passes the window too)."""
    now_ms = node.events.clock.clock.now_ms()
    window_ms = node.config.max_clock_drift_s * 1000
    if abs(request.time_ms - now_ms) > window_ms:
        raise ClockSkew(
            f"本机时钟比上级{health.offset_words(request.time_ms - now_ms)}：请校准电脑时间（本次已按上级时间重试）",
            server_time_ms=now_ms,
            nonce=nonces.issue(request.installation, now_ms),
        )
    return nonces.admit(request.nonce, request.installation, now_ms, window_ms)


def push(node: Context, headers: Mapping[str, str], path: str, body: bytes) -> bytes:
    """Apply a child's batch in one transaction (only its own and its descendants' streams); answer the cursor."""
    request, child = authenticate(node, headers, path, body)
    plaintext, answer_key = opened(node, body, PUSH_CONTEXT, request)
    batch = decode_batch(plaintext)
    with delta.fork_evidence_kept(node.events):
        applied = _applied(node, child, batch)
    return answer_to(node, child, canonical.encode(applied), request, answer_key)


def _applied(node: Context, child: Binding, batch: Batch) -> dict:
    receipt = delta.apply(node.events, batch, allowed=Scope(node.events.trust, child).sends_up)
    return {"cursor": batch.cursor, **asdict(receipt)}


def pull(node: Context, headers: Mapping[str, str], path: str, body: bytes) -> bytes:
    """The events in the child's scope stored here after its down-cursor, cut at signed heads; or, asked for
    a `repair` after the digests differed, one stream of its scope from what it holds."""
    request, child = authenticate(node, headers, path, body)
    asked, answer_key = _asked(node, body, PULL_CONTEXT, request, "拉取请求无法读取")
    if "repair" in asked:
        return answer_to(node, child, encode_batch(_repair(node, child, asked["repair"])), request, answer_key)
    cursor = _cursor(asked.get("cursor"))
    health.reported(node, child, asked.get("status"), watch_of(node.events).contacts)
    batch = _pulled(node, child, cursor, request.protocol)
    return answer_to(node, child, encode_batch(batch), request, answer_key)


def compare(node: Context, headers: Mapping[str, str], path: str, body: bytes) -> bytes:
    """Protocol 2, after a round whose fingerprints differed: the child's heads against ours, and which
    streams each side resends (`digest.differences`)."""
    request, child = authenticate(node, headers, path, body)
    asked, answer_key = _asked(node, body, DIGEST_CONTEXT, request, "摘要比对请求无法读取")
    held = digest.from_wire(asked.get("heads"))
    scope = Scope(node.events.trust, child)
    repairs = digest.differences(held, digest.heads(scope.holds, scope.streams), scope.sends_up)
    return answer_to(node, child, canonical.encode(digest.repairs_to_wire(repairs)), request, answer_key)


def _asked(node: Context, body: bytes, context: bytes, request: SignedRequest, unreadable: str) -> tuple[dict, bytes]:
    """The request's body as the mapping it must be, and the key of its answer (`opened`)."""
    plaintext, answer_key = opened(node, body, context, request)
    try:
        asked = canonical.decode(plaintext)
    except EncodingError as exc:
        raise EncodingError(unreadable) from exc
    if not isinstance(asked, dict):
        raise EncodingError(unreadable)
    return asked, answer_key


def _repair(node: Context, child: Binding, asked) -> Batch:
    try:
        origin, stream, held_seq = asked
        if not (
            isinstance(origin, str)
            and isinstance(stream, str)
            and type(held_seq) is int
            and 0 <= held_seq <= canonical.INT_MAX
        ):
            raise TypeError
    except (TypeError, ValueError) as exc:
        raise EncodingError("修复请求无效") from exc
    if not Scope(node.events.trust, child).holds(origin, stream):
        raise RequestRefused(f"{origin}/{stream} 不在 {child.name} 的同步范围内：不予提供")
    return delta.repair(origin, stream, held_seq)


def blobs(node: Context, headers: Mapping[str, str], path: str, body: bytes) -> bytes:
    """A child's scan request (`node.link.scans`): which it lacks, a chunk of one, or a chunk of ours."""
    request, child = authenticate(node, headers, path, body)
    asked, answer_key = _asked(node, body, BLOB_CONTEXT, request, "扫描件请求无法读取")
    return answer_to(node, child, canonical.encode(scans.answer(node, child, asked)), request, answer_key)


def opened(node: Context, body: bytes, context: bytes, request: SignedRequest) -> tuple[bytes, bytes]:
    """The request's body, and the key its sealing agreed: what a protocol-3 answer is sealed with."""
    try:
        return open_request_body(node.keys.agreement, body, context=context, nonce=request.nonce)
    except CipherError as exc:
        raise CipherError("请求内容无法解开：不是加密给本节点当前密钥的（对方可能用了旧证书），或已被改动") from exc


def _cursor(value) -> int:
    if type(value) is not int or not 0 <= value <= canonical.INT_MAX:  # beyond 64 bits no column holds it
        raise EncodingError("请求缺少有效的拉取游标")
    return value


def _pulled(node: Context, child: Binding, cursor: int, protocol: int) -> Batch:
    """The next batch; the last one (protocol 2) carries our fingerprint of the child's scope, which the
    child compares with its own once it has applied it."""
    watch = watch_of(node.events)
    # Our newest events go down signed, not held back until the next minute; a signing may have appended
    # (a feed renewed), otherwise the arrival `authenticate` looked at is the newest.
    top = watch.look() if watch.sign_heads() else watch.seen
    scope = Scope(node.events.trust, child)
    if cursor >= watch.receivable(scope):
        batch = Batch(max(top, cursor), (), False)  # nothing it receives arrived since: no read
    else:
        batch = delta.outgoing(cursor, scope.receives, streams=scope.streams, top=top)
    if batch.more or protocol < 2:
        return batch
    held = watch.fingerprint(
        child.installation, scope.streams, top, lambda: digest.fingerprint(digest.heads(scope.holds, scope.streams))
    )
    return dataclasses.replace(batch, digest=held)


def import_bundle(node: Context, bundle: sneakernet.Bundle, out: BinaryIO) -> None:
    """A child's bundle from a USB stick: verify it whole (its scans too), apply its pushes and keep its
    scans in one transaction, and write the return bundle to `out`: the acknowledged cursor, the scans
    now held, everything in the child's scope after its down-cursor and the scans of it the child lacks."""
    headers, body = bundle.headers, bundle.body
    path = sneakernet.bundle_path(node.identity.installation)
    if headers.get(PREFIX + "Installation") == node.identity.installation:
        raise RequestRefused("这是本机自己导出的同步包：请在上级节点导入")
    sneakernet.addressed_to(headers, node.identity.installation)
    request = read_request(headers, "POST", path, body)  # a bundle for another node fails its signature here
    child = _sender(node, request, headers)
    plaintext, _ = opened(node, body, BUNDLE_CONTEXT, request)  # a return bundle is sealed to the child's key
    manifest, parts = unframed(plaintext)
    down_from = cursor = _cursor(manifest.get("down_cursor"))
    with node.blobs.staged() as staging:
        carried = scans.stage_carried(node, staging, bundle, request.nonce, manifest)
        with delta.fork_evidence_kept(node.events), node.events.transaction():
            nonces.remember_bundle(request.nonce, request.installation, request.time_ms)
            acked = [_applied(node, child, decode_batch(part)) for part in parts]
            # Placed before the commit, so a scan's bytes never lag its event. Should the commit fail, they
            # stay unnamed by any attachment: harmless, as a blob is named by its hash and served only for one.
            scans.keep_in_scope(staging, child)
    batches = []
    while True:
        batch = _pulled(node, child, cursor, protocol=1)  # no digest: a bundle has no second exchange to repair in
        batches.append(batch)
        cursor = batch.cursor
        if not batch.more:
            break
    resend, repairs = _bundle_repairs(node, child, manifest.get("heads"), batches)
    down = scans.for_child(node, child, manifest.get("lacking"), batches)
    manifest = {
        "v": 2,
        "up_cursor": acked[-1]["cursor"] if acked else None,
        "down_from": down_from,
        "held": [digest for digest in carried if node.blobs.has(digest)],
        "scans": scans.listing(node, down),
        "resend": [list(r) for r in resend],
        "repairs": len(repairs),  # the first parts: applied before the pull, moving no cursor
    }
    nonce = secrets.token_hex(16)
    headers, sealed = seal_and_sign(
        node.keys.signing,
        _agreement_of(node, child),
        framed([encode_batch(b) for b in repairs + batches], manifest),
        path=sneakernet.bundle_path(child.installation),
        context=BUNDLE_CONTEXT,
        station=node.identity.station,
        installation=node.identity.installation,
        time_ms=node.events.clock.clock.now_ms(),
        nonce=nonce,
    )
    sneakernet.write(out, headers, sealed, to=child.installation)
    scans.write_carried(node, out, _agreement_of(node, child), nonce, down)


def _bundle_repairs(node: Context, child: Binding, heads, pulled: list[Batch]) -> tuple[tuple, list[Batch]]:
    """Anti-entropy by USB stick: the child's heads as it exported them against ours once its pushes are
    applied. What it must carry again (we lack it: restored from a backup), and, for the streams it lacks,
    a repair from what it holds, unless the pull brings that stream from there already."""
    if heads is None:
        return (), []  # a bundle from a node without anti-entropy
    scope = Scope(node.events.trust, child)
    repairs = digest.differences(digest.from_wire(heads), digest.heads(scope.holds, scope.streams), scope.sends_up)
    starts: dict[tuple[str, str], int] = {}
    for batch in pulled:
        for head, raws in batch.runs:
            starts.setdefault((head.origin, head.stream), parse_event(raws[0]).seq)
    down = [delta.repair(o, s, seq) for o, s, seq in repairs.down if starts.get((o, s)) != seq + 1]
    return repairs.up, [batch for batch in down if batch.runs]


def answer_to(node: Context, child: Binding, plaintext: bytes, request: SignedRequest, answer_key: bytes) -> bytes:
    """Sealed with the key the request's own sealing agreed (protocol 3: no key agreement of its own, and
    readable only by whoever sealed the request, whose signature was verified), or to the child's certified
    key-agreement key (protocol 2)."""
    if request.protocol >= REPLYING:
        return seal_answer(answer_key, plaintext, nonce=request.nonce)
    return seal_body(_agreement_of(node, child), plaintext, context=ANSWER_CONTEXT, nonce=request.nonce)


def _agreement_of(node: Context, child: Binding):
    key = node.events.trust.agreement_key(child.installation)
    if key is None:
        raise RequestRefused(f"本节点没有 {child.name} 的密钥协商证书，无法加密回答")
    return key
