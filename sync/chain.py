"""Hash chains per (origin, stream), signed heads, and the verifier of a batch.

`chain[n] = SHA-256(chain[n-1] || eid[n])` with `chain[0]` 32 zero bytes. The
previous hash never travels: the receiver recomputes it from what it holds. A
signed head vouches for a chain hash at a seq, hence for every event before it,
so verifying a batch costs one hash per event and one signature per batch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from . import canonical
from .canonical import INT_MAX
from .errors import ChainError, EncodingError, GapError, SignatureError
from .event import PROTOCOL_VERSION, Event, is_eid, is_name, parse_event
from .keys import SigningKey, VerifyingKey

GENESIS = "0" * 64
HEAD_DOMAIN = b"onetrip/head/v1\n"


def link(previous: str, eid: str) -> str:
    return hashlib.sha256(bytes.fromhex(previous) + bytes.fromhex(eid)).hexdigest()


@dataclass(frozen=True)
class SignedHead:
    origin: str
    stream: str
    seq: int
    chain: str
    signed_at: int  # HLC of the signer when it signed
    expires_at_ms: int  # wall time after which a feed that has not re-signed looks frozen
    body: bytes
    signature: bytes

    def to_wire(self) -> dict:
        return {"body": self.body.decode("utf-8"), "signature": self.signature.hex()}


def sign_head(
    key: SigningKey, *, origin: str, stream: str, seq: int, chain: str, signed_at: int, expires_at_ms: int
) -> SignedHead:
    body = canonical.encode(
        {
            "v": PROTOCOL_VERSION,
            "origin": origin,
            "stream": stream,
            "seq": seq,
            "chain": chain,
            "signed_at": signed_at,
            "expires_at_ms": expires_at_ms,
        }
    )
    return SignedHead(origin, stream, seq, chain, signed_at, expires_at_ms, body, key.sign(HEAD_DOMAIN + body))


def parse_head(body: bytes, signature: bytes) -> SignedHead:
    fields = canonical.decode(body)
    expected = {"v", "origin", "stream", "seq", "chain", "signed_at", "expires_at_ms"}
    if not isinstance(fields, dict) or fields.keys() != expected:
        raise EncodingError("not a signed head")
    if type(fields["v"]) is not int or fields["v"] != PROTOCOL_VERSION:
        raise EncodingError(f"signed head version {fields['v']!r} is not supported")
    if not all(type(fields[k]) is int and 0 <= fields[k] <= INT_MAX for k in ("seq", "signed_at", "expires_at_ms")):
        raise EncodingError("signed head seq and times must be 64-bit integers")
    if not all(type(fields[k]) is str and is_name(fields[k]) for k in ("origin", "stream")):
        raise EncodingError("signed head names an invalid origin or stream")
    if type(fields["chain"]) is not str or not is_eid(fields["chain"]):
        raise EncodingError("signed head chain must be 64 hex digits")
    return SignedHead(
        fields["origin"],
        fields["stream"],
        fields["seq"],
        fields["chain"],
        fields["signed_at"],
        fields["expires_at_ms"],
        body,
        signature,
    )


def head_from_wire(wire: dict) -> SignedHead:
    try:
        return parse_head(wire["body"].encode("utf-8"), bytes.fromhex(wire["signature"]))
    except (KeyError, AttributeError, TypeError, ValueError) as exc:
        raise EncodingError("malformed signed head") from exc


def verify_head(head: SignedHead, key: VerifyingKey) -> None:
    try:
        key.verify(head.signature, HEAD_DOMAIN + head.body)
    except SignatureError as exc:
        raise ChainError(
            "bad_signature",
            f"{head.origin}/{head.stream} 第 {head.seq} 号的签名流头验证失败：不是该安装签署的，或已被改动",
        ) from exc


class VerifiedEvent(NamedTuple):
    event: Event
    chain: str  # the chain hash after this event


def verify_batch(
    raws: Sequence[bytes],
    head: SignedHead,
    key: VerifyingKey,
    *,
    held_seq: int = 0,
    held_chain: str = GENESIS,
) -> list[VerifiedEvent]:
    """Parse received bytes, then `verify_chain`; a byte string that is no event is named as such."""
    try:
        events = [parse_event(raw) for raw in raws]
    except EncodingError as exc:
        raise ChainError("bad_event", f"收到的数据不是有效的事件（{exc}）") from exc
    return verify_chain(events, head, key, held_seq=held_seq, held_chain=held_chain)


def verify_chain(
    events: Sequence[Event],
    head: SignedHead,
    key: VerifyingKey,
    *,
    held_seq: int = 0,
    held_chain: str = GENESIS,
) -> list[VerifiedEvent]:
    """Accept exactly an untampered, gap-free, ordered continuation of what is held.

    `events` must follow `held_seq` without a gap and end at the signed `head`. Every
    event is hashed as received (never re-encoded); the head's signature is checked
    with the key the caller trusts for that origin, with the algorithm bound to it.
    Raises `ChainError` whose code names what is wrong.
    """
    verify_head(head, key)
    if not events and head.seq > held_seq:
        raise GapError(
            f"{head.origin}/{head.stream}：签名流头在第 {head.seq} 号，却没有第 {held_seq} 号之后的事件",
            held_seq=held_seq,
        )
    verified: list[VerifiedEvent] = []
    chain = held_chain
    expected = held_seq + 1
    for event in events:
        if (event.origin, event.stream) != (head.origin, head.stream):
            raise ChainError(
                "wrong_stream", f"{head.origin}/{head.stream} 的批次中混有 {event.origin}/{event.stream} 的事件"
            )
        if event.seq != expected:
            if not verified and event.seq > expected:
                raise GapError(
                    f"{event.origin}/{event.stream}：批次从第 {event.seq} 号开始，本节点只有到第 {held_seq} 号",
                    held_seq=held_seq,
                )
            raise ChainError(
                "out_of_order", f"{event.origin}/{event.stream}：应为第 {expected} 号事件，收到第 {event.seq} 号"
            )
        chain = link(chain, event.eid)
        verified.append(VerifiedEvent(event, chain))
        expected += 1
    if head.seq != expected - 1:
        raise ChainError("head_mismatch", f"签名流头在第 {head.seq} 号，批次却止于第 {expected - 1} 号")
    if head.chain != chain:
        raise ChainError(
            "broken_chain", f"{head.origin}/{head.stream} 第 {head.seq} 号的哈希链与签名流头不符：事件被改动过"
        )
    return verified
