"""Golden test vectors: the exact bytes of OneTrip's wire format, from fixed inputs only.

    python -m harness.vectors        (from the project root)

rewrites `tests/data/vectors/*.json`. `tests/unit/test_vectors.py` checks that the
code still reproduces every byte of them, and never regenerates them. Run this
only for a deliberate, versioned change of an encoding (a new protocol version,
a new envelope magic): a vector that breaks by accident is a wire-format break
that every deployed node would notice.

Everything here is fixed: keys are hex constants (public test keys, never used
anywhere else), nonces and clocks are constants, and ECDSA signs with RFC 6979
deterministic nonces, so two runs write identical files.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sync import canonical, cipher, fields
from sync.chain import GENESIS, HEAD_DOMAIN, link, sign_head, verify_chain
from sync.errors import EncodingError
from sync.event import PROTOCOL_VERSION, make_event, parse_event
from sync.hlc import pack
from sync.keys import ECDSA_P256, ED25519, SigningKey, private_pem

VECTORS_DIR = Path(__file__).resolve().parents[1] / "tests" / "data" / "vectors"

# --- fixed inputs --------------------------------------------------------------------------

# P-256 signing key: the private key of RFC 6979 appendix A.2.5 (a published test key).
P256_SIGNING_KEY_HEX = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721"
# Ed25519 signing key: the secret key of RFC 8032 section 7.1, TEST 1 (a published test key).
ED25519_SIGNING_KEY_HEX = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
# P-256 key-agreement key of the recipient of the envelopes, and the sender's ephemeral key.
RECIPIENT_KEY_HEX = "df8c646bac30b8aaa4041e703156f7164115fbf0867713e0dec3a88619403b7f"
EPHEMERAL_KEY_HEX = "987cabd6072ad5baf65ba4d72941b9e505fad5288215cdf2489592d7e678f4fc"
# An entity's data key (field encryption) and an installation's lookup key (keyed search hash).
DATA_KEY_HEX = "67341901755fb9ecf6e14e79ce6c4ce92daf92b9e4bde26cfa2dd4ab829e5161"
LOOKUP_KEY_HEX = "e5307fa8370eafe65d6d2dec6b735bf515e900866ad5cee7d9af415bf888f1cc"
# AES-GCM nonces: a different one for every encryption under the same key.
NONCES = {
    "envelope_empty": "000000000000000000000001",
    "envelope_context": "000000000000000000000002",
    "data_key": "000000000000000000000003",
    "reply": "000000000000000000000004",
    "field_name": "0a0b0c0d0e0f101112131415",
    "field_id_number": "161718191a1b1c1d1e1f2021",
}

WALL_MS = 1_718_000_000_000  # 2024-06-10T06:13:20Z: the wall clock of every HLC below
STATION = "330106001001"  # a village station's code
SIGNED_AT = pack(WALL_MS + 60_000, 0)
EXPIRES_AT_MS = WALL_MS + 7 * 24 * 3600 * 1000

APPLICATION = "application:330106001001-20240610-0001"


def p256_key(hex_scalar: str) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int(hex_scalar, 16), ec.SECP256R1())


def signing_keys() -> dict[str, SigningKey]:
    ed = ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(ED25519_SIGNING_KEY_HEX))
    return {
        ECDSA_P256: SigningKey(ECDSA_P256, p256_key(P256_SIGNING_KEY_HEX)),
        ED25519: SigningKey(ED25519, ed),
    }


def origin() -> str:
    """The installation id as provisioning derives it: `i-` and the start of the signing key's id."""
    return "i-" + signing_keys()[ECDSA_P256].verifying_key.key_id[:20]


def _text(data: bytes) -> str:
    return data.decode("utf-8")


def _event_vector(inputs: dict[str, Any]) -> dict[str, Any]:
    event = make_event(**inputs)
    header, payload = event.raw.split(b"\n", 1)
    return {
        "header_text": _text(header),
        "payload_text": _text(payload),
        "raw_hex": event.raw.hex(),
        "eid": event.eid,
    }


# --- canonical.json ------------------------------------------------------------------------

CANONICAL_VALUES: list[tuple[str, Any]] = [
    ("scalars", [None, True, False, 0, -1, "", [], {}]),
    ("chinese_text", "最多跑一次：代办员在村便民服务站为居民代办"),
    ("astral_plane", "𠀀 (U+20000) and 😀 (U+1F600) are written as UTF-8, never as surrogate escapes"),
    (
        "escapes",
        'quote " backslash \\ slash / newline \n tab \t cr \r backspace \b formfeed \f '
        "nul \x00 bell \x07 unit-separator \x1f del \x7f line-separator \u2028 non-breaking-space \xa0",
    ),
    ("big_ints", [9223372036854775807, -9223372036854775808, 9007199254740993, 4294967296, -4294967297]),
    (
        "nested_unsorted_keys",
        {
            "zeta": 1,
            "Alpha": {"b": [3, {"y": None, "x": "中"}], "a": True},
            "alpha": [],
            "_": {},
            "10": "ten",
            "9": "nine",
            "a b": "space sorts before letters",
        },
    ),
    (
        "code_point_order",  # by code point (= UTF-8 bytes), not UTF-16 units: ～ U+FF5E before 😀 U+1F600
        {"😀": "U+1F600", "～": "U+FF5E", "中": "U+4E2D", "é": "U+00E9", "z": "U+007A", "Z": "U+005A", "": "empty"},
    ),
    (
        "payload_like",
        {
            "事项编码": "330106-SB-0012",
            "事项名称": "城乡居民基本养老保险参保登记",
            "材料": ["居民身份证", "户口簿"],
            "份数": 2,
            "代办": True,
            "备注": None,
        },
    ),
]

CANONICAL_REFUSED: list[tuple[str, Any]] = [
    ("float", 1.5),
    ("integral_float", 1.0),
    ("nested_float", {"ok": 1, "amount": [0.25]}),
    ("int_above_64_bits", 9223372036854775808),
    ("int_below_64_bits", -9223372036854775809),
    ("lone_surrogate", "a\ud800b"),  # not Unicode text: no UTF-8 form
    ("lone_surrogate_key", {"\udc00": 1}),
]


def build_canonical() -> dict[str, Any]:
    valid = []
    for name, value in CANONICAL_VALUES:
        data = canonical.encode(value)
        reference = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        assert data == reference, name
        valid.append({"name": name, "value": value, "hex": data.hex(), "text": _text(data)})
    unsorted = dict(CANONICAL_VALUES)["nested_unsorted_keys"]
    assert list(unsorted) != sorted(unsorted), "the sorting vector must not be sorted already"
    refused = []
    for name, value in CANONICAL_REFUSED:
        try:
            canonical.encode(value)
        except EncodingError:
            refused.append({"name": name, "value": value})
        else:
            raise AssertionError(f"{name} has a canonical form")
    return {
        "description": (
            "Canonical encoding: UTF-8 JSON, keys sorted by code point, no whitespace, no floats, "
            "integers within signed 64 bits; identical to json.dumps(v, sort_keys=True, "
            'separators=(",", ":"), ensure_ascii=False). `value` keys are stored in their original '
            "(unsorted) order; `hex` is the exact canonical bytes, `text` the same bytes as UTF-8."
        ),
        "valid": valid,
        "refused": refused,
    }


# --- event.json ----------------------------------------------------------------------------

EID_A, EID_B = sorted(hashlib.sha256(name).hexdigest() for name in (b"onetrip vector dep a", b"onetrip vector dep b"))


def event_inputs() -> list[tuple[str, dict[str, Any], dict[str, int]]]:
    """(name, make_event keyword arguments, the HLC's parts)."""
    return [
        (
            "minimal",
            {
                "origin": "i-0",
                "stream": "all",
                "seq": 1,
                "hlc": pack(0, 0),
                "type": "t",
                "entity": "e",
                "payload": {},
            },
            {"wall_ms": 0, "counter": 0},
        ),
        (
            "chinese_payload",
            {
                "origin": origin(),
                "stream": STATION,
                "seq": 7,
                "hlc": pack(WALL_MS, 3),
                "type": "application.filed",
                "entity": APPLICATION,
                "payload": {"事项名称": "城乡居民基本养老保险参保登记", "代办": True, "材料": ["居民身份证", "户口簿"]},
            },
            {"wall_ms": WALL_MS, "counter": 3},
        ),
        (
            "deps_sorted_and_deduplicated",  # deps given unsorted and repeated: the header sorts them once each
            {
                "origin": origin(),
                "stream": STATION,
                "seq": 8,
                "hlc": pack(WALL_MS + 1, 0),
                "type": "application.withdrawn",
                "entity": APPLICATION,
                "payload": {"reason": '申请人撤回\n(换行与 "引号" 被转义)', "count": 9223372036854775807},
                "deps": [EID_B, EID_A, EID_B],
            },
            {"wall_ms": WALL_MS + 1, "counter": 0},
        ),
    ]


_DROP = object()


def _header(**changes: Any) -> bytes:
    """A header as a hand-crafted (non-conforming) sender could write it."""
    body = {
        "deps": [],
        "entity": "e",
        "hlc": 0,
        "origin": "i-0",
        "seq": 1,
        "stream": "all",
        "type": "t",
        "v": PROTOCOL_VERSION,
    }
    body.update(changes)
    body = {key: value for key, value in body.items() if value is not _DROP}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


EVENT_REFUSED: list[tuple[str, bytes]] = [
    ("no_separator", _header()),
    ("header_not_object", b"[]\n{}"),
    ("header_not_json", b'{"v":1\n{}'),
    ("unknown_version", _header(v=2) + b"\n{}"),
    ("missing_field", _header(deps=_DROP) + b"\n{}"),
    ("extra_field", _header(extra=1) + b"\n{}"),
    ("seq_zero", _header(seq=0) + b"\n{}"),
    ("seq_string", _header(seq="1") + b"\n{}"),
    ("hlc_negative", _header(hlc=-1) + b"\n{}"),
    ("hlc_float", _header(hlc=1.5) + b"\n{}"),
    ("origin_empty", _header(origin="") + b"\n{}"),
    ("stream_with_space", _header(stream="a b") + b"\n{}"),
    ("type_starts_with_dot", _header(type=".t") + b"\n{}"),
    ("entity_not_ascii", _header(entity="办件") + b"\n{}"),
    ("deps_unsorted", _header(deps=[EID_B, EID_A]) + b"\n{}"),
    ("deps_repeated", _header(deps=[EID_A, EID_A]) + b"\n{}"),
    ("deps_not_eids", _header(deps=["ABC"]) + b"\n{}"),
    ("deps_upper_case", _header(deps=[EID_A.upper()]) + b"\n{}"),
    ("version_true", _header(v=True) + b"\n{}"),  # true == 1 in Python: the type is checked too
    ("version_float", _header(v=1.0) + b"\n{}"),
    ("seq_above_64_bits", _header(seq=2**63) + b"\n{}"),
    ("hlc_above_64_bits", _header(hlc=2**64 - 1) + b"\n{}"),
    ("entity_trailing_newline", _header(entity="e\n") + b"\n{}"),
]


def build_event() -> dict[str, Any]:
    events = [
        {"name": name, "input": inputs, "hlc_parts": parts, **_event_vector(inputs)}
        for name, inputs, parts in event_inputs()
    ]
    refused = []
    for name, raw in EVENT_REFUSED:
        try:
            parse_event(raw)
        except EncodingError:
            refused.append({"name": name, "raw_hex": raw.hex(), "raw_text": _text(raw)})
        else:
            raise AssertionError(f"{name} parses")
    return {
        "description": (
            "Event envelope: canonical header + b'\\n' + canonical payload; eid = SHA-256 of the whole bytes. "
            "`input` holds the make_event keyword arguments; `refused` are bytes parse_event must refuse."
        ),
        "protocol_version": PROTOCOL_VERSION,
        "events": events,
        "refused": refused,
    }


# --- chain.json ----------------------------------------------------------------------------


def chain_inputs() -> list[dict[str, Any]]:
    """Five events of one (origin, stream), seq 1..5; deps filled in as eids become known."""
    keys = signing_keys()
    me = origin()
    station = f"station:{STATION}"
    return [
        {
            "type": "station.created",
            "entity": station,
            "payload": {
                "code": STATION,
                "name": "转塘街道上城埭村便民服务站",
                "level": "village",
                "region": "330106",
                "parent": None,
            },
        },
        {
            "type": "installation.created",
            "entity": f"installation:{me}",
            "payload": {
                "installation": me,
                "station": STATION,
                "algorithm": ECDSA_P256,
                "signing_key": keys[ECDSA_P256].verifying_key.public_bytes().hex(),
                "agreement_key": cipher.point_bytes(p256_key(RECIPIENT_KEY_HEX).public_key()).hex(),
            },
        },
        {
            "type": "application.filed",
            "entity": APPLICATION,
            "payload": {"item": "330106-SB-0012", "item_name": "城乡居民基本养老保险参保登记", "proxy": True},
        },
        {
            "type": "material.attached",
            "entity": APPLICATION,
            "deps_on": [2],  # index of the events it saw (the filing)
            "payload": {"material": "户口簿", "pages": 2, "blob": hashlib.sha256(b"scan").hexdigest()},
        },
        {
            "type": "receipt.printed",
            "entity": APPLICATION,
            "deps_on": [3],
            "payload": {"receipt": "330106001001-20240610-0001", "copies": 1},
        },
    ]


def build_chain() -> dict[str, Any]:
    me = origin()
    vectors, eids, previous = [], [], GENESIS
    for index, spec in enumerate(chain_inputs()):
        inputs = {
            "origin": me,
            "stream": STATION,
            "seq": index + 1,
            "hlc": pack(WALL_MS + 1000 * index, index % 2),
            "type": spec["type"],
            "entity": spec["entity"],
            "payload": spec["payload"],
            "deps": [eids[i] for i in spec.get("deps_on", ())],
        }
        vector = _event_vector(inputs)
        chain = link(previous, vector["eid"])
        assert chain == hashlib.sha256(bytes.fromhex(previous) + bytes.fromhex(vector["eid"])).hexdigest()
        vectors.append({"seq": index + 1, "input": inputs, **vector, "chain": chain})
        eids.append(vector["eid"])
        previous = chain
    return {
        "description": (
            "One (origin, stream) from GENESIS: chain[n] = SHA-256(chain[n-1] || eid[n]) over the 32 raw bytes "
            "of each; chain[0] is 32 zero bytes. The previous hash never travels."
        ),
        "origin": me,
        "stream": STATION,
        "genesis": GENESIS,
        "events": vectors,
    }


# --- head.json -----------------------------------------------------------------------------


def build_head(chain_vectors: dict[str, Any]) -> dict[str, Any]:
    keys = signing_keys()
    events = [parse_event(bytes.fromhex(item["raw_hex"])) for item in chain_vectors["events"]]
    key_info = {
        ECDSA_P256: {"private_key_hex": P256_SIGNING_KEY_HEX, "source": "RFC 6979 appendix A.2.5"},
        ED25519: {"private_key_hex": ED25519_SIGNING_KEY_HEX, "source": "RFC 8032 section 7.1, TEST 1"},
    }
    heads = []
    for name, algorithm, seq in (
        ("ecdsa_p256_at_5", ECDSA_P256, 5),
        ("ed25519_at_5", ED25519, 5),
        ("ecdsa_p256_at_3", ECDSA_P256, 3),
    ):
        key = keys[algorithm]
        chain = chain_vectors["events"][seq - 1]["chain"]
        head_fields = {
            "origin": chain_vectors["origin"],
            "stream": chain_vectors["stream"],
            "seq": seq,
            "chain": chain,
            "signed_at": SIGNED_AT,
            "expires_at_ms": EXPIRES_AT_MS,
        }
        head = sign_head(key, **head_fields)
        verify_chain(events[:seq], head, key.verifying_key)
        heads.append(
            {
                "name": name,
                "algorithm": algorithm,
                **key_info[algorithm],
                "private_key_pem": _text(key.to_pem()),
                "public_key_der_hex": key.verifying_key.public_bytes().hex(),
                "key_id": key.verifying_key.key_id,
                "fields": head_fields,
                "body_text": _text(head.body),
                "body_hex": head.body.hex(),
                "signed_message_hex": (HEAD_DOMAIN + head.body).hex(),
                "signature_hex": head.signature.hex(),
                "wire": head.to_wire(),
            }
        )
    known_answers = [
        {
            "name": "rfc6979_a25_p256_sha256_sample",
            "algorithm": ECDSA_P256,
            "private_key_hex": P256_SIGNING_KEY_HEX,
            "message_hex": b"sample".hex(),
            "signature_hex": keys[ECDSA_P256].sign(b"sample").hex(),
        },
        {
            "name": "rfc8032_test1_empty_message",
            "algorithm": ED25519,
            "private_key_hex": ED25519_SIGNING_KEY_HEX,
            "message_hex": "",
            "signature_hex": keys[ED25519].sign(b"").hex(),
        },
    ]
    # The published answers: if these fail, the signer is not RFC 6979 / RFC 8032.
    assert known_answers[0]["signature_hex"] == (
        "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716"
        "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8"
    )
    assert known_answers[1]["signature_hex"] == (
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555"
        "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )
    return {
        "description": (
            "Signed heads over chain.json. The signature covers b'onetrip/head/v1\\n' + body; ECDSA P-256 "
            "signatures are raw r||s (64 bytes) with RFC 6979 deterministic nonces, so they are stable. "
            "The verifier takes the algorithm from the key it trusts, never from the head."
        ),
        "domain": _text(HEAD_DOMAIN),
        "heads": heads,
        "known_answers": known_answers,
    }


# --- envelope.json -------------------------------------------------------------------------


def _envelope(name: str, plaintext: bytes, context: bytes, aad: bytes, nonce_name: str, **extra: Any) -> dict[str, Any]:
    recipient = p256_key(RECIPIENT_KEY_HEX)
    ephemeral = p256_key(EPHEMERAL_KEY_HEX)
    nonce = bytes.fromhex(NONCES[nonce_name])
    sealed = cipher.seal(recipient.public_key(), plaintext, context=context, aad=aad, ephemeral=ephemeral, nonce=nonce)
    assert cipher.open_sealed(recipient, sealed, context=context, aad=aad) == plaintext
    eph_point = cipher.point_bytes(ephemeral.public_key())
    rcpt_point = cipher.point_bytes(recipient.public_key())
    shared = ephemeral.exchange(ec.ECDH(), recipient.public_key())
    salt = eph_point + rcpt_point
    info = b"onetrip/envelope/v1|" + context
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(shared)
    gcm_aad = cipher.MAGIC + eph_point + aad
    assert sealed == cipher.MAGIC + eph_point + nonce + AESGCM(key).encrypt(nonce, plaintext, gcm_aad)
    return {
        "name": name,
        **extra,
        "plaintext_hex": plaintext.hex(),
        "context_hex": context.hex(),
        "aad_hex": aad.hex(),
        "ephemeral_private_key_hex": EPHEMERAL_KEY_HEX,
        "nonce_hex": nonce.hex(),
        "ephemeral_point_hex": eph_point.hex(),
        "shared_secret_hex": shared.hex(),
        "hkdf_salt_hex": salt.hex(),
        "hkdf_info_hex": info.hex(),
        "aes_key_hex": key.hex(),
        "gcm_aad_hex": gcm_aad.hex(),
        "sealed_hex": sealed.hex(),
    }


def _reply(envelope: dict[str, Any], plaintext: bytes) -> dict[str, Any]:
    """The reply to an envelope (protocol 3's sync answers): its key from the envelope's own key agreement."""
    recipient = p256_key(RECIPIENT_KEY_HEX)
    context, aad = bytes.fromhex(envelope["context_hex"]), bytes.fromhex(envelope["aad_hex"])
    opened, key = cipher.open_replying(recipient, bytes.fromhex(envelope["sealed_hex"]), context=context, aad=aad)
    assert opened == bytes.fromhex(envelope["plaintext_hex"])
    info = b"onetrip/reply/v1|" + context
    salt, shared = bytes.fromhex(envelope["hkdf_salt_hex"]), bytes.fromhex(envelope["shared_secret_hex"])
    assert key == HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(shared)
    nonce = bytes.fromhex(NONCES["reply"])
    sealed = cipher.seal_reply(key, plaintext, aad=aad, nonce=nonce)
    gcm_aad = cipher.REPLY_MAGIC + aad
    assert sealed == cipher.REPLY_MAGIC + nonce + AESGCM(key).encrypt(nonce, plaintext, gcm_aad)
    return {
        "answers": envelope["name"],
        "plaintext_hex": plaintext.hex(),
        "hkdf_info_hex": info.hex(),
        "aes_key_hex": key.hex(),
        "nonce_hex": nonce.hex(),
        "gcm_aad_hex": gcm_aad.hex(),
        "sealed_hex": sealed.hex(),
    }


def build_envelope() -> dict[str, Any]:
    recipient = p256_key(RECIPIENT_KEY_HEX)
    data_key = bytes.fromhex(DATA_KEY_HEX)
    envelopes = [
        _envelope("empty_context_and_aad", b"hello, OneTrip", b"", b"", "envelope_empty"),
        _envelope(
            "context_and_aad",
            canonical.encode({"办件编号": "330106001001-20240610-0001", "状态": "已受理"}),
            b"vector",
            b"vector-aad",
            "envelope_context",
        ),
    ]
    wrapped = _envelope(
        "wrapped_data_key",
        data_key,
        b"data-key",
        APPLICATION.encode("utf-8"),
        "data_key",
        entity=APPLICATION,
    )
    assert fields.unwrap_data_key(bytes.fromhex(wrapped["sealed_hex"]), recipient, APPLICATION) == data_key
    field_vectors = []
    for field_name, value, nonce_name in (
        ("applicant_name", "张三", "field_name"),
        ("id_number", "33010619900307123X", "field_id_number"),
    ):
        nonce = bytes.fromhex(NONCES[nonce_name])
        token = fields.encrypt_field(data_key, APPLICATION, field_name, value, nonce=nonce)
        assert fields.decrypt_field(data_key, APPLICATION, field_name, token) == value
        field_vectors.append(
            {
                "data_key_hex": DATA_KEY_HEX,
                "entity": APPLICATION,
                "name": field_name,
                "value": value,
                "nonce_hex": nonce.hex(),
                "aad_text": f"onetrip/field/v1|{APPLICATION}|{field_name}",
                "token": token,
            }
        )
    lookup_key = bytes.fromhex(LOOKUP_KEY_HEX)
    lookups = []
    for kind, value, variants in (
        ("id_number", "33010619900307123X", ["３３０１０６１９９００３０７１２３ｘ", " 33010619900307123x "]),
        ("name", "张三", ["张三 "]),
    ):
        digest = fields.lookup_hash(lookup_key, kind, value)
        assert all(fields.lookup_hash(lookup_key, kind, v) == digest for v in variants)
        normalised = fields.normalise(value)
        lookups.append(
            {
                "lookup_key_hex": LOOKUP_KEY_HEX,
                "kind": kind,
                "value": value,
                "same_hash_for": variants,
                "normalised": normalised,
                "message_hex": f"{kind}\x00{normalised}".encode().hex(),
                "hash": digest,
            }
        )
    return {
        "description": (
            "Encryption envelope: b'OTE1' | ephemeral P-256 point (65 bytes, uncompressed) | nonce (12) | "
            "AES-256-GCM ciphertext+tag. key = HKDF-SHA256(ECDH shared secret, salt = ephemeral point || "
            "recipient point, info = b'onetrip/envelope/v1|' + context); GCM AAD = b'OTE1' || ephemeral point "
            "|| aad. A reply to an envelope: b'OTR1' | nonce (12) | AES-256-GCM ciphertext+tag, key = HKDF-SHA256(the "
            "envelope's shared secret and salt, info = b'onetrip/reply/v1|' + its context), GCM AAD = b'OTR1' || "
            "aad. Intermediate values are given for other implementations."
        ),
        "magic_hex": cipher.MAGIC.hex(),
        "recipient": {
            "private_key_hex": RECIPIENT_KEY_HEX,
            "private_key_pem": _text(private_pem(recipient)),
            "public_point_hex": cipher.point_bytes(recipient.public_key()).hex(),
        },
        "envelopes": envelopes,
        "reply": _reply(envelopes[1], canonical.encode({"cursor": 42})),
        "wrapped_data_key": wrapped,
        "fields": field_vectors,
        "lookup_hashes": lookups,
    }


# --- writing -------------------------------------------------------------------------------


def build_all() -> dict[str, dict[str, Any]]:
    chain = build_chain()
    return {
        "canonical.json": build_canonical(),
        "event.json": build_event(),
        "chain.json": chain,
        "head.json": build_head(chain),
        "envelope.json": build_envelope(),
    }


# Characters that JSON allows raw but editors and diff tools may hide or rewrite, and lone
# surrogates, which have no UTF-8 form at all: written as \u escapes (they only occur in strings).
_ESCAPED = re.compile("[\x7f\xa0\u2028\u2029\ufeff\ud800-\udfff]")


def write_all(directory: Path = VECTORS_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in build_all().items():
        path = directory / name
        # Not sort_keys: input values keep their unsorted key order, which is what the sorting vectors test.
        text = json.dumps(content, ensure_ascii=False, indent=2) + "\n"
        text = _ESCAPED.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main() -> int:
    for path in write_all():
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
