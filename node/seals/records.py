"""A seal's record and a seal use's claim: values, their canonical bytes and the checks on them. Pure.

The record follows the fields of GB/T 38540 (seal id, type, name, owner and credit code, image digest
and size, the certificates allowed to use it, validity, the maker's signature) in our canonical
encoding, so that an OFD/SM2 profile can later sign the same values without changing the model.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import asdict, dataclass
from urllib.parse import parse_qs, urlencode, urlparse

from node.errors import DomainError
from node.rules.identifiers import credit_code_problem, normalise_credit_code
from sync import canonical
from sync.errors import EncodingError

KINDS = {"official": "公章", "business": "业务专用章", "acceptance": "受理专用章"}
RECORD_DOMAIN = b"onetrip/seal-record/v1\n"
CLAIM_DOMAIN = b"onetrip/seal-use/v1\n"
QR_PREFIX = "onetrip:seal?"
NAME_MAX, OWNER_MAX = 12, 40
VALID_DAYS_MAX = 5 * 365


class SealRefused(DomainError):
    """A seal that cannot be ordered, issued, installed or used as asked; the message says why."""

    code = "seal_refused"


class UnreadableDocument(DomainError):
    """What was given to verify is neither a readable PDF nor a seal's QR text."""

    code = "unreadable_document"


@dataclass(frozen=True)
class SealRecord:
    seal_id: str
    kind: str  # a key of KINDS
    name: str  # set across the seal, under the star
    owner: str  # the organisation, set along the arc
    credit_code: str
    holder_station: str
    holder_installation: str
    image_digest: str  # SHA-256 of the seal's SVG
    size_mm: int
    signers: tuple[str, ...]  # SHA-256 fingerprints of the certificates allowed to use it
    valid_from: str  # ISO dates, UTC
    valid_to: str
    maker: str  # the county station that made it

    def encode(self) -> bytes:
        return canonical.encode({"v": 1, **asdict(self), "signers": list(self.signers)})

    @classmethod
    def decode(cls, raw: bytes) -> SealRecord:
        try:
            fields = canonical.decode(raw)
            fields.pop("v")
            return cls(**{**fields, "signers": tuple(fields["signers"])})
        except (EncodingError, TypeError, KeyError, AttributeError) as exc:
            raise SealRefused("印章记录格式无效") from exc

    def valid_on(self, at: dt.datetime) -> bool:
        return self.valid_from <= at.astimezone(dt.UTC).date().isoformat() <= self.valid_to


def order_problems(kind: str, name: str, owner: str, credit_code: str, valid_days: int) -> list[str]:
    """Every problem of a seal order at once, in words a county admin acts on."""
    problems = []
    if kind not in KINDS:
        problems.append(f"印章类型应为 {'、'.join(KINDS.values())} 之一")
    if not name.strip() or len(name.strip()) > NAME_MAX:
        problems.append(f"印章名称不能为空，且不超过 {NAME_MAX} 个字")
    if not owner.strip() or len(owner.strip()) > OWNER_MAX:
        problems.append(f"用章单位名称不能为空，且不超过 {OWNER_MAX} 个字")
    if problem := credit_code_problem(credit_code):
        problems.append(problem)
    if not 1 <= valid_days <= VALID_DAYS_MAX:
        problems.append(f"有效期应为 1 至 {VALID_DAYS_MAX} 天")
    return problems


def order_fields(kind: str, name: str, owner: str, credit_code: str) -> dict[str, str]:
    return {
        "kind": kind,
        "name": name.strip(),
        "owner": owner.strip(),
        "credit_code": normalise_credit_code(credit_code),
    }


@dataclass(frozen=True)
class SealClaim:
    """What one use of a seal asserts, signed by the seal's key: carried by the QR code, so that the
    document can be checked from a phone's scan without reading the PDF's internals."""

    seal_id: str
    digest: str  # SHA-256 hex of the document as printed before the seal was put on it
    number: str  # the application
    document: str  # receipt | notice | decision | refusal | licence
    at_ms: int  # the sealing node's clock
    signature: bytes = b""

    def message(self) -> bytes:
        body = {"seal": self.seal_id, "digest": self.digest, "number": self.number, "doc": self.document}
        return CLAIM_DOMAIN + canonical.encode({**body, "at": self.at_ms})

    def to_qr(self) -> str:
        fields = {"s": self.seal_id, "d": self.digest, "n": self.number, "k": self.document, "t": self.at_ms}
        return QR_PREFIX + urlencode({**fields, "sig": base64.urlsafe_b64encode(self.signature).decode().rstrip("=")})

    @property
    def at(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.at_ms / 1000, dt.UTC)


def parse_claim(text: str) -> SealClaim:
    """The claim of a QR text as a scanner or a person gives it back (surrounding blanks ignored)."""
    text = text.strip()
    if not text.startswith(QR_PREFIX):
        raise UnreadableDocument("这不是 OneTrip 电子印章的二维码内容（应以 onetrip:seal? 开头）")
    try:
        fields = {k: v[0] for k, v in parse_qs(urlparse(text).query, strict_parsing=True).items()}
        signature = base64.urlsafe_b64decode(fields["sig"] + "=" * (-len(fields["sig"]) % 4))
        claim = SealClaim(fields["s"], fields["d"], fields["n"], fields["k"], int(fields["t"]), signature)
    except (KeyError, ValueError, binascii.Error) as exc:
        raise UnreadableDocument("二维码内容不完整或被改动过，无法读出印章信息") from exc
    if len(claim.digest) != 64 or len(claim.signature) != 64:
        raise UnreadableDocument("二维码内容不完整或被改动过，无法读出印章信息")
    return claim
