"""Verifying a sealed document, offline, with the trust anchors this node holds: a PDF, or the text of
its QR code. `judge` is pure (facts in, a verdict in plain Chinese out); the rest gathers the facts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509

from node.context import Context
from node.seals.lifecycle import seal_attributes
from node.seals.records import KINDS, SealClaim, UnreadableDocument, parse_claim
from provisioning.certs import find_path
from provisioning.errors import CertificateRefused
from provisioning.region import CHINA
from provisioning.trust import anchors, authorities
from storage.models import Seal, SealUse
from sync.errors import SignatureError
from sync.keys import ECDSA_P256, VerifyingKey

DOCUMENT_NAMES = {
    "receipt": "受理回执",
    "notice": "一次性告知书",
    "decision": "办结通知书",
    "refusal": "不予受理通知书",
    "licence": "电子证照",
}


@dataclass(frozen=True)
class SealFacts:
    """What this node knows of the seal: from its record if the county's stream reached us, else from
    the certificate alone (which names the seal but cannot say whether it was revoked since)."""

    seal_id: str
    kind: str
    name: str
    owner: str
    credit_code: str
    valid_from: dt.datetime  # UTC
    valid_to: dt.datetime
    recorded: bool
    revoked_at: dt.datetime | None = None
    revoke_reason: str | None = None


@dataclass(frozen=True)
class Facts:
    now: dt.datetime
    claim: SealClaim | None
    seal: SealFacts | None
    claim_signed: bool  # the claim's signature verifies with the seal's certificate
    chain_problem: str | None  # None: the certificate chains to our anchors at the claim's time
    pdf_intact: bool | None = None  # None: only the QR text was given
    pdf_whole: bool | None = None
    pdf_signer_matches: bool | None = None  # the PDF was signed by the certificate of the seal it claims
    logged: bool = False
    received_at: dt.datetime | None = None  # UTC: the county's countersigned time of receipt of the use
    received_by: str | None = None


@dataclass(frozen=True)
class Verdict:
    valid: bool
    headline: str
    problems: tuple[str, ...]
    notes: tuple[str, ...]
    seal_id: str | None = None
    seal: str | None = None  # 业务专用章 (its kind) and name
    owner: str | None = None
    credit_code: str | None = None
    number: str | None = None
    document: str | None = None
    sealed_at: str | None = None  # Beijing time, by the sealing node's clock


def _local(moment: dt.datetime) -> str:
    return moment.astimezone(CHINA).strftime("%Y年%m月%d日 %H:%M")


def judge(facts: Facts) -> Verdict:
    """Valid only if every check passes; each failure and each caveat said in words a resident reads."""
    problems, notes = [], []
    claim, seal = facts.claim, facts.seal
    if facts.pdf_intact is False:
        problems.append("文件在盖章之后被改动过：签名与文件内容不符")
    if facts.pdf_whole is False:
        problems.append("盖章之后文件又被追加了内容")
    if claim is None:
        problems.append("文件中没有电子印章的核验信息")
    if seal is None and claim is not None:
        problems.append(f"本节点不认识印章 {claim.seal_id}：它不是本节点信任的机构签发的，或其登记尚未同步到本节点")
    if facts.chain_problem:
        problems.append(
            f"印章证书不通往本节点信任的根证书：可能来自其他县市的信任链，或是伪造的（{facts.chain_problem}）"
        )
    if facts.pdf_signer_matches is False:
        problems.append("文件的签名证书与二维码所称的印章不符")
    if seal is not None and claim is not None and not facts.claim_signed:
        problems.append("二维码上的核验信息不是这枚印章签署的：可能被伪造或改动")
    if seal is not None and claim is not None:
        _judge_in_time(facts, claim, seal, problems, notes)
    valid = not problems
    headline = "印章有效：文件自盖章后未被改动" if valid else "印章无效：" + problems[0]
    if valid and facts.pdf_intact is None:
        headline = "二维码有效：核验信息由这枚印章签署（文件本身须另行核对）"
    return Verdict(
        valid,
        headline,
        tuple(problems),
        tuple(notes),
        seal_id=claim.seal_id if claim else None,
        seal=f"{seal.name}（{KINDS.get(seal.kind, seal.kind)}）" if seal else None,
        owner=seal.owner if seal else None,
        credit_code=seal.credit_code if seal else None,
        number=claim.number if claim else None,
        document=DOCUMENT_NAMES.get(claim.document, claim.document) if claim else None,
        sealed_at=_local(claim.at) if claim else None,
    )


def _judge_in_time(facts: Facts, claim: SealClaim, seal: SealFacts, problems: list[str], notes: list[str]) -> None:
    """The seal's life against the moment of sealing: validity, revocation, and what this node has received."""
    at = claim.at
    if not seal.valid_from <= at <= seal.valid_to:
        problems.append(
            f"盖章时（{_local(at)}）印章不在有效期内（{seal.valid_from:%Y-%m-%d} 至 {seal.valid_to:%Y-%m-%d}）"
        )
    elif facts.now > seal.valid_to:
        notes.append(f"印章已于 {seal.valid_to:%Y-%m-%d} 过期；盖章时在有效期内")
    if seal.revoked_at is not None:
        why = f"（{seal.revoke_reason}）" if seal.revoke_reason else ""
        if at >= seal.revoked_at:
            problems.append(f"印章已于 {_local(seal.revoked_at)} 被吊销{why}，这份文件是吊销之后盖的章")
        else:
            notes.append(f"印章已于 {_local(seal.revoked_at)} 被吊销{why}；这份文件盖章在吊销之前，盖章时有效")
            if facts.received_at is None or facts.received_at >= seal.revoked_at:
                notes.append("盖章时间以盖章电脑的时钟为准：县级在吊销之前未收到这次用印的记录，无法独立证明")
    if not seal.recorded:
        notes.append("本节点尚未收到这枚印章的登记：无法确认它此后是否被吊销，同步后再查")
    notes.append(
        "用印记录：本节点已收到这次用印的记录"
        if facts.logged
        else "用印记录：本节点尚未收到这次用印的记录（同步后可查）"
    )
    if facts.received_at is not None:
        notes.append(f"县级枢纽（{facts.received_by}）于 {_local(facts.received_at)} 签收了这次用印的记录")


# -- gathering the facts ---------------------------------------------------------------------


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC)


def _seal_facts(cert: x509.Certificate | None, seal_id: str) -> SealFacts | None:
    row = Seal.get_or_none(Seal.seal_id == seal_id)
    if row is not None:
        return SealFacts(
            row.seal_id,
            row.kind,
            row.name,
            row.owner,
            row.credit_code,
            _utc(row.valid_from),
            _utc(row.valid_to),
            True,
            _utc(row.revoked_at) if row.revoked_at else None,
            row.revoke_reason,
        )
    if cert is None:
        return None
    attributes = seal_attributes(cert)
    return SealFacts(
        attributes["seal"],
        attributes["kind"],
        attributes["name"],
        attributes["owner"],
        attributes["credit_code"],
        cert.not_valid_before_utc,
        cert.not_valid_after_utc,
        False,
    )


def _facts(node: Context, claim: SealClaim, cert: x509.Certificate | None, **pdf) -> Facts:
    chain_problem, signed = None, False
    if cert is not None:
        try:
            find_path(cert, authorities(), anchors(), at=claim.at)
        except CertificateRefused as exc:
            chain_problem = str(exc)
        try:
            VerifyingKey(ECDSA_P256, cert.public_key()).verify(claim.signature, claim.message())
            signed = True
        except SignatureError:
            signed = False
    use = SealUse.get_or_none((SealUse.seal_id == claim.seal_id) & (SealUse.digest == claim.digest))
    received = {"received_at": _utc(use.received_at), "received_by": use.received_by} if use and use.received_at else {}
    facts = _seal_facts(cert, claim.seal_id)
    return Facts(node.now(), claim, facts, signed, chain_problem, logged=use is not None, **received, **pdf)


def verify_claim(node: Context, text: str) -> Verdict:
    """The QR text alone: the seal must be known here, since the text does not carry its certificate."""
    claim = parse_claim(text)
    row = Seal.get_or_none(Seal.seal_id == claim.seal_id)
    cert = x509.load_der_x509_certificate(bytes(row.certificate)) if row else None
    return judge(_facts(node, claim, cert))


def verify_pdf(node: Context, data: bytes) -> Verdict:
    """A PDF carries its seal's certificate and chain: it verifies at a node that never saw the seal."""
    from node.seals import pades  # pyHanko is loaded when a node first verifies, not when it starts

    if not data.startswith(b"%PDF-"):
        raise UnreadableDocument("上传的文件不是 PDF")
    signed = pades.read(data, anchors(), authorities())
    if signed is None:
        raise UnreadableDocument("PDF 文件已损坏，无法读取")
    try:
        claim = parse_claim(signed.subject)
    except UnreadableDocument:
        return judge(Facts(node.now(), None, None, False, None, pdf_intact=signed.intact, pdf_whole=signed.whole_file))
    cert = signed.signer
    try:
        matches = cert is not None and seal_attributes(cert).get("seal") == claim.seal_id
    except CertificateRefused:
        matches = False
    return judge(
        _facts(
            node,
            claim,
            cert if matches else None,
            pdf_intact=signed.intact,
            pdf_whole=signed.whole_file,
            pdf_signer_matches=matches,
        )
    )


def verify(node: Context, *, pdf: bytes | None = None, text: str | None = None) -> Verdict:
    if pdf:
        return verify_pdf(node, pdf)
    if text and text.strip():
        return verify_claim(node, text)
    raise UnreadableDocument("请上传盖章的 PDF 文件，或粘贴二维码的文字内容")
