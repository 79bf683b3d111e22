"""The golden vectors in tests/data/vectors: the code must reproduce every byte of them.

Nothing here regenerates a vector. A failure means an encoding changed: if that was
deliberate (a new, versioned format), regenerate with `python -m harness.vectors`
and say so in the change; otherwise the change breaks every deployed node.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sync import canonical, cipher, fields
from sync.chain import (
    GENESIS,
    HEAD_DOMAIN,
    head_from_wire,
    link,
    parse_head,
    sign_head,
    verify_batch,
    verify_chain,
    verify_head,
)
from sync.errors import ChainError, CipherError, EncodingError, GapError, SignatureError, UnsupportedAlgorithm
from sync.event import PROTOCOL_VERSION, SEPARATOR, eid_of, make_event, parse_event
from sync.hlc import pack, unpack
from sync.keys import ECDSA_P256, ED25519, SigningKey, VerifyingKey

VECTORS = Path(__file__).resolve().parents[1] / "data" / "vectors"


def load(name: str) -> dict[str, Any]:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


CANONICAL = load("canonical.json")
EVENTS = load("event.json")
CHAIN = load("chain.json")
HEADS = load("head.json")
ENVELOPE = load("envelope.json")


def by_name(items: list[dict[str, Any]]) -> list[Any]:
    return [pytest.param(item, id=item["name"]) for item in items]


def head_vector(name: str) -> dict[str, Any]:
    return next(item for item in HEADS["heads"] if item["name"] == name)


def trusted_key(vector: dict[str, Any]) -> VerifyingKey:
    """The verifier's key: algorithm from what it trusts, never from the head."""
    return VerifyingKey.from_public_bytes(vector["algorithm"], bytes.fromhex(vector["public_key_der_hex"]))


def signed_head(vector: dict[str, Any]):
    return parse_head(bytes.fromhex(vector["body_hex"]), bytes.fromhex(vector["signature_hex"]))


def chain_events():
    return [parse_event(bytes.fromhex(item["raw_hex"])) for item in CHAIN["events"]]


def p256(hex_scalar: str) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int(hex_scalar, 16), ec.SECP256R1())


# --- canonical encoding --------------------------------------------------------------------


@pytest.mark.parametrize("vector", by_name(CANONICAL["valid"]))
def test_canonical_bytes(vector):
    data = canonical.encode(vector["value"])
    assert data.hex() == vector["hex"]
    assert data == vector["text"].encode("utf-8")
    assert data == json.dumps(vector["value"], sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert canonical.decode(data) == vector["value"]


def test_canonical_sorting_vector_is_stored_unsorted():
    value = next(item["value"] for item in CANONICAL["valid"] if item["name"] == "nested_unsorted_keys")
    assert list(value) != sorted(value)


@pytest.mark.parametrize("vector", by_name(CANONICAL["refused"]))
def test_canonical_refuses(vector):
    with pytest.raises(EncodingError):
        canonical.encode(vector["value"])


# --- events --------------------------------------------------------------------------------


def test_event_protocol_version():
    assert EVENTS["protocol_version"] == PROTOCOL_VERSION


@pytest.mark.parametrize("vector", by_name(EVENTS["events"]))
def test_event_bytes_and_eid(vector):
    event = make_event(**vector["input"])
    raw = bytes.fromhex(vector["raw_hex"])
    assert event.raw == raw
    assert raw == (vector["header_text"] + "\n" + vector["payload_text"]).encode("utf-8")
    assert event.eid == vector["eid"] == hashlib.sha256(raw).hexdigest() == eid_of(raw)
    assert event.payload == vector["input"]["payload"]


@pytest.mark.parametrize("vector", by_name(EVENTS["events"]))
def test_event_parses_back(vector):
    raw = bytes.fromhex(vector["raw_hex"])
    inputs = vector["input"]
    event = parse_event(raw)
    assert event.raw == raw and event.eid == vector["eid"]
    assert (event.origin, event.stream, event.seq, event.hlc, event.type, event.entity) == (
        inputs["origin"],
        inputs["stream"],
        inputs["seq"],
        inputs["hlc"],
        inputs["type"],
        inputs["entity"],
    )
    assert event.deps == tuple(sorted(set(inputs.get("deps", []))))
    assert json.loads(raw[: raw.index(SEPARATOR)])["v"] == PROTOCOL_VERSION


@pytest.mark.parametrize("vector", by_name(EVENTS["events"]))
def test_event_hlc_parts(vector):
    parts = vector["hlc_parts"]
    assert pack(parts["wall_ms"], parts["counter"]) == vector["input"]["hlc"]
    assert unpack(vector["input"]["hlc"]) == (parts["wall_ms"], parts["counter"])


@pytest.mark.parametrize("vector", by_name(EVENTS["refused"]))
def test_event_refused(vector):
    raw = bytes.fromhex(vector["raw_hex"])
    assert raw == vector["raw_text"].encode("utf-8")
    with pytest.raises(EncodingError):
        parse_event(raw)


# --- chain ---------------------------------------------------------------------------------


def test_chain_hashes_from_genesis():
    assert CHAIN["genesis"] == GENESIS == "00" * 32
    previous = GENESIS
    for index, vector in enumerate(CHAIN["events"], start=1):
        event = make_event(**vector["input"])
        assert (
            (event.origin, event.stream, event.seq)
            == (CHAIN["origin"], CHAIN["stream"], index)
            == (
                CHAIN["origin"],
                CHAIN["stream"],
                vector["seq"],
            )
        )
        assert event.raw.hex() == vector["raw_hex"]
        assert event.eid == vector["eid"]
        expected = hashlib.sha256(bytes.fromhex(previous) + bytes.fromhex(vector["eid"])).hexdigest()
        assert link(previous, event.eid) == expected == vector["chain"]
        previous = vector["chain"]


# --- signed heads --------------------------------------------------------------------------


@pytest.mark.parametrize("vector", by_name(HEADS["heads"]))
def test_head_bytes_and_signature(vector):
    assert HEADS["domain"].encode("utf-8") == HEAD_DOMAIN
    key = SigningKey.from_pem(vector["algorithm"], vector["private_key_pem"].encode("ascii"))
    assert key.verifying_key.public_bytes().hex() == vector["public_key_der_hex"]
    assert key.verifying_key.key_id == vector["key_id"]
    head = sign_head(key, **vector["fields"])
    body = bytes.fromhex(vector["body_hex"])
    assert head.body == body == vector["body_text"].encode("utf-8")
    assert (HEAD_DOMAIN + body).hex() == vector["signed_message_hex"]
    # ECDSA is RFC 6979 deterministic and Ed25519 is deterministic: the same bytes every time.
    assert head.signature.hex() == vector["signature_hex"]
    assert head.to_wire() == vector["wire"]


@pytest.mark.parametrize("vector", by_name(HEADS["heads"]))
def test_head_signature_verifies(vector):
    key = trusted_key(vector)
    signature = bytes.fromhex(vector["signature_hex"])
    if vector["algorithm"] == ECDSA_P256:
        assert len(signature) == 64  # raw r || s, not DER
    key.verify(signature, bytes.fromhex(vector["signed_message_hex"]))
    head = signed_head(vector)
    verify_head(head, key)
    assert {name: getattr(head, name) for name in vector["fields"]} == vector["fields"]
    assert head_from_wire(vector["wire"]) == head
    with pytest.raises(SignatureError):
        key.verify(signature, bytes.fromhex(vector["body_hex"]))  # without the domain prefix it is not a head


def test_private_key_hex_matches_pem():
    for vector in HEADS["heads"]:
        pem_key = serialization.load_pem_private_key(vector["private_key_pem"].encode("ascii"), password=None)
        if vector["algorithm"] == ECDSA_P256:
            assert pem_key.private_numbers().private_value == int(vector["private_key_hex"], 16)
        else:
            raw = pem_key.private_bytes(
                serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
            )
            assert raw.hex() == vector["private_key_hex"]


@pytest.mark.parametrize("vector", by_name(HEADS["known_answers"]))
def test_signature_known_answers(vector):
    """Published RFC 6979 / RFC 8032 answers: the signer is the standard one, not merely stable."""
    if vector["algorithm"] == ECDSA_P256:
        key = SigningKey(ECDSA_P256, p256(vector["private_key_hex"]))
    else:
        pem = next(h for h in HEADS["heads"] if h["private_key_hex"] == vector["private_key_hex"])["private_key_pem"]
        key = SigningKey.from_pem(ED25519, pem.encode("ascii"))
    message = bytes.fromhex(vector["message_hex"])
    assert key.sign(message).hex() == vector["signature_hex"]
    key.verifying_key.verify(bytes.fromhex(vector["signature_hex"]), message)


def test_the_algorithm_comes_from_the_trusted_key():
    ecdsa, ed = head_vector("ecdsa_p256_at_5"), head_vector("ed25519_at_5")
    with pytest.raises(ChainError) as caught:
        verify_head(signed_head(ecdsa), trusted_key(ed))
    assert caught.value.code == "bad_signature"
    with pytest.raises(UnsupportedAlgorithm):
        VerifyingKey.from_public_bytes(ED25519, bytes.fromhex(ecdsa["public_key_der_hex"]))
    with pytest.raises(UnsupportedAlgorithm):
        VerifyingKey.from_public_bytes("none", bytes.fromhex(ecdsa["public_key_der_hex"]))


# --- verifying the chain with its heads ----------------------------------------------------


@pytest.mark.parametrize("vector", by_name(HEADS["heads"]))
def test_verify_chain_accepts_the_vectors(vector):
    seq = vector["fields"]["seq"]
    events = chain_events()[:seq]
    verified = verify_chain(events, signed_head(vector), trusted_key(vector))
    assert [item.chain for item in verified] == [item["chain"] for item in CHAIN["events"][:seq]]
    assert [item.event.eid for item in verified] == [item["eid"] for item in CHAIN["events"][:seq]]
    raws = [bytes.fromhex(item["raw_hex"]) for item in CHAIN["events"][:seq]]
    assert verify_batch(raws, signed_head(vector), trusted_key(vector)) == verified


def test_verify_chain_continues_from_what_is_held():
    vector = head_vector("ecdsa_p256_at_5")
    held = CHAIN["events"][2]
    verified = verify_chain(
        chain_events()[3:], signed_head(vector), trusted_key(vector), held_seq=3, held_chain=held["chain"]
    )
    assert [item.chain for item in verified] == [item["chain"] for item in CHAIN["events"][3:]]


def _refusal(events, vector_name="ecdsa_p256_at_5", **held) -> ChainError:
    vector = head_vector(vector_name)
    with pytest.raises(ChainError) as caught:
        verify_chain(events, signed_head(vector), trusted_key(vector), **held)
    return caught.value


def test_verify_chain_names_what_is_wrong():
    events = chain_events()
    gap = _refusal(events[1:])
    assert isinstance(gap, GapError) and gap.code == "gap" and gap.held_seq == 0
    assert _refusal([events[1], events[0], *events[2:]]).code == "gap"
    assert _refusal([events[0], events[2], events[1], *events[3:]]).code == "out_of_order"
    assert _refusal(events[:4]).code == "head_mismatch"
    assert _refusal(events, held_seq=0, held_chain=CHAIN["events"][0]["chain"]).code == "broken_chain"
    stranger = parse_event(bytes.fromhex(EVENTS["events"][0]["raw_hex"]))
    assert _refusal([*events[:4], stranger]).code == "wrong_stream"
    inputs = dict(CHAIN["events"][4]["input"], payload={"receipt": "forged", "copies": 1})
    assert _refusal([*events[:4], make_event(**inputs)]).code == "broken_chain"


def test_verify_chain_refuses_an_altered_signature():
    vector = head_vector("ecdsa_p256_at_5")
    signature = bytearray.fromhex(vector["signature_hex"])
    signature[-1] ^= 1
    head = parse_head(bytes.fromhex(vector["body_hex"]), bytes(signature))
    with pytest.raises(ChainError) as caught:
        verify_chain(chain_events(), head, trusted_key(vector))
    assert caught.value.code == "bad_signature"


# --- encryption envelope -------------------------------------------------------------------


def recipient_key() -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(ENVELOPE["recipient"]["private_key_pem"].encode("ascii"), password=None)
    assert key.private_numbers().private_value == int(ENVELOPE["recipient"]["private_key_hex"], 16)
    assert cipher.point_bytes(key.public_key()).hex() == ENVELOPE["recipient"]["public_point_hex"]
    return key


ALL_ENVELOPES = [*ENVELOPE["envelopes"], ENVELOPE["wrapped_data_key"]]


@pytest.mark.parametrize("vector", by_name(ALL_ENVELOPES))
def test_envelope_seal_bytes(vector):
    sealed = cipher.seal(
        recipient_key().public_key(),
        bytes.fromhex(vector["plaintext_hex"]),
        context=bytes.fromhex(vector["context_hex"]),
        aad=bytes.fromhex(vector["aad_hex"]),
        ephemeral=p256(vector["ephemeral_private_key_hex"]),
        nonce=bytes.fromhex(vector["nonce_hex"]),
    )
    assert sealed.hex() == vector["sealed_hex"]


@pytest.mark.parametrize("vector", by_name(ALL_ENVELOPES))
def test_envelope_opens(vector):
    sealed = bytes.fromhex(vector["sealed_hex"])
    context, aad = bytes.fromhex(vector["context_hex"]), bytes.fromhex(vector["aad_hex"])
    opened = cipher.open_sealed(recipient_key(), sealed, context=context, aad=aad)
    assert opened.hex() == vector["plaintext_hex"]
    with pytest.raises(CipherError):
        cipher.open_sealed(recipient_key(), sealed, context=context, aad=aad + b"x")
    with pytest.raises(CipherError):
        cipher.open_sealed(recipient_key(), sealed, context=context + b"x", aad=aad)
    altered = bytearray(sealed)
    altered[-1] ^= 1
    with pytest.raises(CipherError):
        cipher.open_sealed(recipient_key(), bytes(altered), context=context, aad=aad)


@pytest.mark.parametrize("vector", by_name(ALL_ENVELOPES))
def test_envelope_layout_and_key_schedule(vector):
    """Recompute the envelope from its specification alone, as another implementation would."""
    sealed = bytes.fromhex(vector["sealed_hex"])
    magic = bytes.fromhex(ENVELOPE["magic_hex"])
    assert magic == b"OTE1" == cipher.MAGIC
    eph_point, nonce = sealed[4:69], sealed[69:81]
    assert sealed[:4] == magic
    assert eph_point.hex() == vector["ephemeral_point_hex"]
    assert eph_point[0] == 4  # uncompressed point
    assert cipher.point_bytes(p256(vector["ephemeral_private_key_hex"]).public_key()) == eph_point
    assert nonce.hex() == vector["nonce_hex"]
    recipient = recipient_key()
    shared = recipient.exchange(ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), eph_point))
    assert shared.hex() == vector["shared_secret_hex"]
    salt = eph_point + cipher.point_bytes(recipient.public_key())
    info = b"onetrip/envelope/v1|" + bytes.fromhex(vector["context_hex"])
    assert (salt.hex(), info.hex()) == (vector["hkdf_salt_hex"], vector["hkdf_info_hex"])
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(shared)
    assert key.hex() == vector["aes_key_hex"]
    gcm_aad = magic + eph_point + bytes.fromhex(vector["aad_hex"])
    assert gcm_aad.hex() == vector["gcm_aad_hex"]
    assert AESGCM(key).decrypt(nonce, sealed[81:], gcm_aad).hex() == vector["plaintext_hex"]


def test_reply_to_an_envelope_from_its_specification_and_from_the_code():
    """Protocol 3's answers: the reply key and bytes recomputed from docs/protocol.md §7 alone, then by the code."""
    reply = ENVELOPE["reply"]
    envelope = next(e for e in ENVELOPE["envelopes"] if e["name"] == reply["answers"])
    context, aad = bytes.fromhex(envelope["context_hex"]), bytes.fromhex(envelope["aad_hex"])
    info = b"onetrip/reply/v1|" + context
    salt, shared = bytes.fromhex(envelope["hkdf_salt_hex"]), bytes.fromhex(envelope["shared_secret_hex"])
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(shared)
    assert (info.hex(), key.hex()) == (reply["hkdf_info_hex"], reply["aes_key_hex"])
    nonce, plaintext, sealed = (bytes.fromhex(reply[k]) for k in ("nonce_hex", "plaintext_hex", "sealed_hex"))
    gcm_aad = b"OTR1" + aad
    assert gcm_aad.hex() == reply["gcm_aad_hex"] and cipher.REPLY_MAGIC == b"OTR1"
    assert sealed == b"OTR1" + nonce + AESGCM(key).encrypt(nonce, plaintext, gcm_aad)
    _, derived = cipher.open_replying(recipient_key(), bytes.fromhex(envelope["sealed_hex"]), context=context, aad=aad)
    assert derived == key
    assert cipher.seal_reply(key, plaintext, aad=aad, nonce=nonce) == sealed
    assert cipher.open_reply(key, sealed, aad=aad) == plaintext


def test_wrapped_data_key_uses_the_field_context():
    vector = ENVELOPE["wrapped_data_key"]
    entity = vector["entity"]
    assert bytes.fromhex(vector["context_hex"]) == b"data-key"
    assert bytes.fromhex(vector["aad_hex"]) == entity.encode("utf-8")
    data_key = fields.unwrap_data_key(bytes.fromhex(vector["sealed_hex"]), recipient_key(), entity)
    assert data_key.hex() == vector["plaintext_hex"]
    assert len(data_key) == fields.DATA_KEY_BYTES
    with pytest.raises(CipherError):  # bound to its entity
        fields.unwrap_data_key(bytes.fromhex(vector["sealed_hex"]), recipient_key(), entity + "x")
    rewrapped = fields.wrap_data_key(data_key, recipient_key().public_key(), entity)  # random ephemeral
    assert fields.unwrap_data_key(rewrapped, recipient_key(), entity) == data_key


def field_id(vector: dict[str, Any]) -> str:
    return vector["name"]


@pytest.mark.parametrize("vector", ENVELOPE["fields"], ids=field_id)
def test_field_encryption(vector):
    data_key = bytes.fromhex(vector["data_key_hex"])
    entity, name = vector["entity"], vector["name"]
    nonce = bytes.fromhex(vector["nonce_hex"])
    token = fields.encrypt_field(data_key, entity, name, vector["value"], nonce=nonce)
    assert token == vector["token"]
    assert fields.decrypt_field(data_key, entity, name, token) == vector["value"]
    sealed = base64.urlsafe_b64decode(token)
    assert sealed[:12] == nonce
    aad = vector["aad_text"].encode("utf-8")
    assert aad == f"onetrip/field/v1|{entity}|{name}".encode()
    assert AESGCM(data_key).decrypt(nonce, sealed[12:], aad) == vector["value"].encode("utf-8")
    with pytest.raises(CipherError):  # bound to the field's name
        fields.decrypt_field(data_key, entity, name + "x", token)


@pytest.mark.parametrize("vector", ENVELOPE["lookup_hashes"], ids=lambda v: v["kind"])
def test_lookup_hash(vector):
    key = bytes.fromhex(vector["lookup_key_hex"])
    kind = vector["kind"]
    assert fields.normalise(vector["value"]) == vector["normalised"]
    message = bytes.fromhex(vector["message_hex"])
    assert message == f"{kind}\x00{vector['normalised']}".encode()
    assert hmac.new(key, message, hashlib.sha256).hexdigest() == vector["hash"]
    assert fields.lookup_hash(key, kind, vector["value"]) == vector["hash"]
    for variant in vector["same_hash_for"]:
        assert fields.lookup_hash(key, kind, variant) == vector["hash"]
    assert fields.lookup_hash(key, kind + "x", vector["value"]) != vector["hash"]
