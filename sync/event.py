"""The event envelope: what every change of state becomes, and its exact bytes.

`(origin installation, stream, seq, hlc, deps, type, entity, payload)` as two
canonical JSON texts joined by a newline: the header (everything but the
payload), then the payload. An event is identified by the SHA-256 of the whole
(its `eid`). Verifying, storing and relaying read only the header, so a hub or a
relay never parses what it does not apply. `deps` name, by eid, the events of
the same entity its author had seen.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, NamedTuple

from . import canonical
from .canonical import INT_MAX
from .errors import EncodingError

PROTOCOL_VERSION = 1
ACCEPTED_VERSIONS = frozenset({PROTOCOL_VERSION})

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")
_EID = re.compile(r"^[0-9a-f]{64}$")
_FOUR_NAMES = re.compile("\0".join([_NAME.pattern.strip("^$")] * 4))
_FIELDS = frozenset({"v", "origin", "stream", "seq", "hlc", "deps", "type", "entity"})
SEPARATOR = b"\n"  # canonical JSON never contains a raw newline


class Event(NamedTuple):
    """One event, header decoded; a tuple because verifying makes one per event and must be cheap."""

    origin: str
    stream: str
    seq: int
    hlc: int
    deps: tuple[str, ...]
    type: str
    entity: str
    raw: bytes
    eid: str

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.origin, self.stream, self.seq)

    @property
    def payload(self) -> dict[str, Any]:
        """Parsed at each access (keep it in a local): only the node that applies an event needs it."""
        payload = canonical.decode(self.raw[self.raw.index(SEPARATOR) + 1 :])
        if not isinstance(payload, dict):
            raise EncodingError("event payload must be an object")
        return payload


def eid_of(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def make_event(
    *,
    origin: str,
    stream: str,
    seq: int,
    hlc: int,
    type: str,
    entity: str,
    payload: dict[str, Any],
    deps: tuple[str, ...] | list[str] = (),
) -> Event:
    header = {
        "v": PROTOCOL_VERSION,
        "origin": origin,
        "stream": stream,
        "seq": seq,
        "hlc": hlc,
        "deps": sorted(set(deps)),
        "type": type,
        "entity": entity,
    }
    _validate(header)
    if not isinstance(payload, dict):
        raise EncodingError("event payload must be an object")
    raw = canonical.encode(header) + SEPARATOR + canonical.encode(payload)
    return Event(origin, stream, seq, hlc, tuple(header["deps"]), type, entity, raw, eid_of(raw))


def parse_event(raw: bytes) -> Event:
    """Decode the header of received bytes; the Event keeps the bytes unchanged for hashing and relaying."""
    cut = raw.find(SEPARATOR)
    if cut < 0:
        raise EncodingError("an event is a header and a payload separated by a newline")
    body = canonical.decode(raw[:cut])
    if not isinstance(body, dict):
        raise EncodingError("an event header must be an object")
    _validate(body)
    return Event(
        body["origin"],
        body["stream"],
        body["seq"],
        body["hlc"],
        tuple(body["deps"]),
        body["type"],
        body["entity"],
        raw,
        eid_of(raw),
    )


def is_name(value: str) -> bool:
    """Origins, streams, types and entities: short, printable, no whitespace."""
    return _NAME.fullmatch(value) is not None


def is_eid(value: str) -> bool:
    return _EID.fullmatch(value) is not None


def _validate(body: dict[str, Any]) -> None:
    if body.keys() != _FIELDS:
        raise EncodingError(f"event fields must be exactly {sorted(_FIELDS)}")
    if type(body["v"]) is not int or body["v"] not in ACCEPTED_VERSIONS:
        raise EncodingError(f"protocol version {body['v']!r} is not supported")
    names = (body["origin"], body["stream"], body["type"], body["entity"])
    # One match over the four names joined by NUL (which no name may contain): verifying runs
    # this for every event, and four separate matches cost more than the hashing.
    if not all(type(n) is str for n in names) or not _FOUR_NAMES.fullmatch("\0".join(names)):
        for field, value in zip(("origin", "stream", "type", "entity"), names, strict=True):
            if type(value) is not str or not _NAME.fullmatch(value):
                raise EncodingError(f"event {field} {value!r} is not a valid name")
    if type(body["seq"]) is not int or not 1 <= body["seq"] <= INT_MAX:
        raise EncodingError("event seq must be a positive 64-bit integer")
    if type(body["hlc"]) is not int or not 0 <= body["hlc"] <= INT_MAX:
        raise EncodingError("event hlc must be a non-negative 64-bit integer")
    deps = body["deps"]
    if type(deps) is not list:
        raise EncodingError("event deps must be a list of event ids")
    if deps and (not all(type(d) is str and _EID.fullmatch(d) for d in deps) or deps != sorted(set(deps))):
        raise EncodingError("event deps must be sorted, unique event ids")
