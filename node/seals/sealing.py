"""Using a seal: a clerk with the seal's PIN seals a printed document, offline, and the use is logged.

The document is printed once plain (its digest is what the use claims), then again with the seal and
the QR code of the signed claim, and signed as PAdES with the seal's key and the chain to the root.
The `seal.used` event is appended last, in one transaction: a refused or failed sealing logs nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from typing import Protocol

from cryptography import x509

from node.catalogue.published import Reference
from node.context import Context
from node.printing.dossier import paper_for
from node.printing.papers import Stamp, filename
from node.printing.render import render
from node.printing.stamp import draw
from node.seals.lifecycle import SEAL_USED
from node.seals.records import KINDS, SealClaim, SealRecord, SealRefused
from provisioning.certs import fingerprint
from provisioning.seal_keys import unlock_seal_key
from provisioning.trust import chain_of
from storage.models import Operator, Seal
from sync.keys import ECDSA_P256, SigningKey

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
    seal = _usable(node, seal_id)
    cert = x509.load_der_x509_certificate(bytes(seal.certificate))
    if fingerprint(cert) not in SealRecord.decode(bytes(seal.record)).signers:
        raise SealRefused(f"印章 {seal_id} 的记录没有列出本机的印章证书")
    key = unlock_seal_key(node.config.data_dir, seal_id, pin, node.now())
    paper = paper_for(node, number, node.reference.catalogue())
    plain = render(kind, paper, size)
    at = node.now()
    claim = SealClaim(seal_id, hashlib.sha256(plain).hexdigest(), number, kind, int(at.timestamp() * 1000))
    claim = dataclasses.replace(claim, signature=SigningKey(ECDSA_P256, key).sign(claim.message()))
    stamped = render(kind, paper, size, Stamp(draw(seal.owner, seal.name), claim.to_qr()))
    from node.seals import pades  # pyHanko is loaded when a node first seals, not when it starts

    signed = pades.sign(
        stamped, key, cert, chain_of(cert), name=f"{seal.owner}{KINDS[seal.kind]}", location=node.identity.name
    )
    use_id = uuid.uuid4().hex  # minted here: the hub dedupes on it
    payload = {
        "use": use_id,
        "seal": seal_id,
        "digest": claim.digest,
        "number": number,
        "document": kind,
        "operator": operator.username,
        "installation": node.identity.installation,
        "at_ms": claim.at_ms,
    }
    with node.events.transaction():
        node.events.append(
            SEAL_USED, f"seal-use:{use_id}", payload, stream=node.identity.station, deps=[seal.issued_eid]
        )
    return Sealed(signed, filename(kind, paper), claim, use_id)
