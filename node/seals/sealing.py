"""Using a seal: a clerk with the seal's PIN seals a printed document, offline, and the use is logged.

The document is printed once plain (its digest is what the use claims), then again with the seal and
the QR code of the signed claim, and signed as PAdES with the seal's key and the chain to the root.
The `seal.used` event is appended last, in one transaction: a refused or failed sealing logs nothing.
A result file the deciding body uploaded is sealed the same way as a 电子证照: the seal and QR laid over
its last page, the claim naming the digest of the file as uploaded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from typing import Protocol

from cryptography import x509

from node.cases.events import LICENCE, result_title
from node.cases.intake import attach_licence, read_scan
from node.cases.queries import applied_events, body_of
from node.catalogue.published import Reference
from node.context import Context
from node.printing.dossier import paper_for
from node.printing.papers import Stamp, filename
from node.printing.render import render, stamp_onto
from node.printing.stamp import draw
from node.seals.lifecycle import SEAL_USED
from node.seals.records import KINDS, SealClaim, SealRecord, SealRefused
from provisioning.certs import fingerprint
from provisioning.seal_keys import unlock_seal_key
from provisioning.trust import chain_of
from storage.models import Attachment, Operator, Seal
from sync.keys import ECDSA_P256, SigningKey

LICENCE_DOCUMENT = "licence"  # the QR's document kind for a sealed result file (电子证照)
SEAL_ROLES = ("agent", "clerk")  # the people at the window; admins manage seals, they do not use them


@dataclasses.dataclass(frozen=True)
class Sealed:
    pdf: bytes
    filename: str
    claim: SealClaim
    use_id: str


class SealingContext(Context, Protocol):
    """A node that seals a paper also reads the catalogue the paper names."""

    reference: Reference


def usable_seals(node: Context) -> list[Seal]:
    """The seals this installation holds that are neither revoked nor out of their validity now."""
    now = node.now().replace(tzinfo=None)
    return list(
        Seal.select()
        .where(
            (Seal.installation == node.identity.installation)
            & Seal.revoked_at.is_null()
            & (Seal.valid_from <= now)
            & (Seal.valid_to >= now)
        )
        .order_by(Seal.seal_id)
    )


def _usable(node: Context, seal_id: str) -> Seal:
    seal = Seal.get_or_none(Seal.seal_id == seal_id)
    if seal is None or seal.installation != node.identity.installation:
        raise SealRefused(f"本机没有印章 {seal_id}")
    if seal.revoked_at is not None:
        raise SealRefused(f"印章 {seal_id} 已于 {seal.revoked_at:%Y-%m-%d %H:%M} UTC 被县级吊销，不能再使用")
    now = node.now().replace(tzinfo=None)
    if not seal.valid_from <= now <= seal.valid_to:
        raise SealRefused(
            f"印章 {seal_id} 的有效期为 {seal.valid_from:%Y-%m-%d} 至 {seal.valid_to:%Y-%m-%d}，现在不能使用"
        )
    return seal


def seal_document(
    node: SealingContext, *, operator: Operator, pin: str, seal_id: str, number: str, kind: str, size: str = "A4"
) -> Sealed:
    """The document of application `number`, sealed; refused without the role, the PIN or a usable seal."""
    if operator.role not in SEAL_ROLES:
        raise SealRefused("只有代办员和窗口人员可以用章")
    seal, cert, key = _unlock(node, seal_id, pin)
    paper = paper_for(node, number, node.reference.catalogue(), kind)
    plain = render(kind, paper, size)
    claim = _claim(node, seal_id, key, plain, number, kind)
    stamped = render(kind, paper, size, Stamp(draw(seal.owner, seal.name), claim.to_qr()))
    signed = _sign(node, seal, cert, key, stamped)
    with node.events.transaction():
        use_id = _log_use(node, seal, claim, operator)
    return Sealed(signed, filename(kind, paper), claim, use_id)


def seal_licence(node: SealingContext, *, operator: Operator, pin: str, seal_id: str, number: str, blob: str) -> Sealed:
    """电子证照: a result file of an approved application, sealed by the body that decided it with its seal and
    a verification QR on the last page, kept beside the result (the resident's query lists it) and logged as a
    use of the seal; once per result."""
    if operator.role != "clerk":
        raise SealRefused("电子证照由作出决定单位的窗口人员盖章")
    attachment = Attachment.get_or_none((Attachment.number == number) & (Attachment.blob == blob))
    title = result_title(attachment.material) if attachment else None
    if title is None:
        raise SealRefused(f"办件 {number} 没有这份办理结果")
    _check_decided_here(node, number)
    if Attachment.select().where((Attachment.number == number) & (Attachment.material == LICENCE + title)).exists():
        raise SealRefused(f"“{title}”已经盖章生成电子证照，不必再盖")
    seal, cert, key = _unlock(node, seal_id, pin)
    _, original = read_scan(node.identity, node.keys, node.blobs, number, blob)
    claim = _claim(node, seal_id, key, original, number, LICENCE_DOCUMENT)
    signed = _sign(node, seal, cert, key, stamp_onto(original, Stamp(draw(seal.owner, seal.name), claim.to_qr())))
    with node.events.transaction():
        use_id = _log_use(node, seal, claim, operator)
        use = {"by": operator.username, "seal": seal_id, "use": use_id}
        attach_licence(node.events, node.identity, node.keys, node.blobs, number, title, signed, use)
    return Sealed(signed, f"{number}-{title}-电子证照.pdf", claim, use_id)


def _check_decided_here(node: Context, number: str) -> None:
    """Only an approval has a licence, and only the body whose installation signed the decision seals it."""
    decisions = [e for e in applied_events(number) if e.type == "application.decided"]
    if not decisions or not decisions[-1].payload.get("approved"):
        raise SealRefused(f"办件 {number} 尚未作出准予的决定，不能出具电子证照")
    decider = node.events.trust.binding(decisions[-1].origin)
    if decider is None or decider.station != node.identity.station:
        raise SealRefused(f"办件 {number} 由{body_of(decisions[-1].origin)}作出决定，电子证照应由该单位盖章")


def _unlock(node: Context, seal_id: str, pin: str) -> tuple[Seal, x509.Certificate, object]:
    """A usable seal of this installation, its certificate as the record lists it, and its key opened by the PIN."""
    seal = _usable(node, seal_id)
    cert = x509.load_der_x509_certificate(bytes(seal.certificate))
    if fingerprint(cert) not in SealRecord.decode(bytes(seal.record)).signers:
        raise SealRefused(f"印章 {seal_id} 的记录没有列出本机的印章证书")
    return seal, cert, unlock_seal_key(node.config.data_dir, seal_id, pin, node.now())


def _claim(node: Context, seal_id: str, key, plain: bytes, number: str, kind: str) -> SealClaim:
    """What the QR code says: the digest of the document as it was before the seal, signed with the seal's key."""
    claim = SealClaim(seal_id, hashlib.sha256(plain).hexdigest(), number, kind, int(node.now().timestamp() * 1000))
    return dataclasses.replace(claim, signature=SigningKey(ECDSA_P256, key).sign(claim.message()))


def _sign(node: Context, seal: Seal, cert: x509.Certificate, key, stamped: bytes) -> bytes:
    from node.seals import pades  # pyHanko is loaded when a node first seals, not when it starts

    return pades.sign(
        stamped, key, cert, chain_of(cert), name=f"{seal.owner}{KINDS[seal.kind]}", location=node.identity.name
    )


def _log_use(node: Context, seal: Seal, claim: SealClaim, operator: Operator) -> str:
    """The `seal.used` event, appended inside the caller's transaction: a failed sealing logs nothing."""
    use_id = uuid.uuid4().hex  # minted here: the hub dedupes on it
    payload = {
        "use": use_id,
        "seal": seal.seal_id,
        "digest": claim.digest,
        "number": claim.number,
        "document": claim.document,
        "operator": operator.username,
        "installation": node.identity.installation,
        "at_ms": claim.at_ms,
    }
    node.events.append(SEAL_USED, f"seal-use:{use_id}", payload, stream=node.identity.station, deps=[seal.issued_eid])
    return use_id
