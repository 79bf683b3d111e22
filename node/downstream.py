"""The parent's side of a link: authenticate a child's request, apply what it pushes, answer its pull.

Who the child is comes from the certificate its signature verifies against, never from
what the request says. A web view hands the raw body here and returns the sealed answer.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING

from cryptography import x509

from provisioning.authority import above
from provisioning.certs import SIGNING, Binding, binding_of
from provisioning.errors import CertificateRefused
from provisioning.scope import Scope
from provisioning.trust import adopt_certificate, agreement_key
from storage.models import Contact, upsert
from sync import canonical, delta, nonces
from sync.batch import decode_batch, encode_batch
from sync.errors import ClockSkew, EncodingError, InstallationRevoked, RequestRefused, UnknownInstallation
from sync.request import CERTIFICATES, SignedRequest, open_body, read_request, seal_body

if TYPE_CHECKING:
    from .runtime import Node

PUSH_CONTEXT, PULL_CONTEXT, ANSWER_CONTEXT = b"sync/push", b"sync/pull", b"sync/answer"


def authenticate(node: Node, headers: Mapping[str, str], path: str, body: bytes) -> tuple[SignedRequest, Binding]:
    """The verified request and its sender as certified; a replay, a stranger or a revoked PC is refused."""
    request = read_request(headers, "POST", path, body)
    if request.installation == node.identity.installation:
        raise RequestRefused("请求自称来自本机：已拒绝")
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
    _check_freshness(node, request)
    upsert(Contact, station=sender.station, installation=request.installation, at=node.now().replace(tzinfo=None))
    return request, sender


def _adopt_sent_certificates(node: Node, header: str) -> None:
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


def _check_freshness(node: Node, request: SignedRequest) -> None:
    now_ms = node.events.clock.clock.now_ms()
    if nonces.redeem(request.nonce, request.installation, now_ms):
        return  # it signed the time and nonce we gave it after a clock skew
    window_ms = node.config.max_clock_drift_s * 1000
    if abs(request.time_ms - now_ms) > window_ms:
        minutes = round((request.time_ms - now_ms) / 60000)
        raise ClockSkew(
            f"本机时钟与上级相差约 {minutes} 分钟：请校正电脑时间（本次已按上级时间重试）",
            server_time_ms=now_ms,
            nonce=nonces.issue(request.installation, now_ms),
        )
    nonces.remember(request.nonce, request.installation, now_ms, window_ms)


def push(node: Node, headers: Mapping[str, str], path: str, body: bytes) -> bytes:
    """Apply a child's batch in one transaction (only its own and its descendants' streams); answer the cursor."""
    request, child = authenticate(node, headers, path, body)
    batch = decode_batch(open_body(node.keys.agreement, body, context=PUSH_CONTEXT, nonce=request.nonce))
    receipt = delta.apply(node.events, batch, allowed=Scope(node.events.trust, child).sends_up)
    return _answer(child, canonical.encode({"cursor": batch.cursor, **asdict(receipt)}), request)


def pull(node: Node, headers: Mapping[str, str], path: str, body: bytes) -> bytes:
    """The events in the child's scope stored here after its down-cursor, cut at signed heads."""
    request, child = authenticate(node, headers, path, body)
    asked = canonical.decode(open_body(node.keys.agreement, body, context=PULL_CONTEXT, nonce=request.nonce))
    cursor = asked.get("cursor") if isinstance(asked, dict) else None
    if type(cursor) is not int or cursor < 0:
        raise EncodingError("拉取请求缺少有效的游标")
    node.events.sign_heads()  # our newest events go down signed, not held back until the next minute
    batch = delta.outgoing(cursor, Scope(node.events.trust, child).receives)
    return _answer(child, encode_batch(batch), request)


def _answer(child: Binding, plaintext: bytes, request: SignedRequest) -> bytes:
    key = agreement_key(child.installation)
    if key is None:
        raise RequestRefused(f"本节点没有 {child.name} 的密钥协商证书，无法加密回答")
    return seal_body(key, plaintext, context=ANSWER_CONTEXT, nonce=request.nonce)
