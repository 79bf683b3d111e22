"""sync/cipher.py: the one encryption envelope (ECDH P-256 → HKDF → AES-256-GCM)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from sync import cipher
from sync.errors import CipherError
from sync.keys import generate_agreement_key

HEADER = len(cipher.MAGIC) + 65 + 12
TAG = 16
TEXT = "身份证号 11010119900307451X".encode()


@pytest.fixture(scope="module")
def recipient() -> ec.EllipticCurvePrivateKey:
    return generate_agreement_key()


@pytest.fixture(scope="module")
def stranger() -> ec.EllipticCurvePrivateKey:
    return generate_agreement_key()


def test_sealed_bytes_open_with_the_recipients_key(recipient):
    sealed = cipher.seal(recipient.public_key(), TEXT)
    assert cipher.open_sealed(recipient, sealed) == TEXT


@settings(deadline=None)
@given(plaintext=st.binary(max_size=2000), context=st.binary(max_size=20), aad=st.binary(max_size=20))
def test_seal_then_open_round_trips_any_bytes(recipient, plaintext, context, aad):
    sealed = cipher.seal(recipient.public_key(), plaintext, context=context, aad=aad)
    assert cipher.open_sealed(recipient, sealed, context=context, aad=aad) == plaintext


def test_envelope_layout_is_magic_ephemeral_point_nonce_then_ciphertext_and_tag(recipient):
    ephemeral = generate_agreement_key()
    nonce = bytes(range(12))
    sealed = cipher.seal(recipient.public_key(), TEXT, ephemeral=ephemeral, nonce=nonce)
    assert sealed[:4] == b"OTE1"
    assert sealed[4:69] == cipher.point_bytes(ephemeral.public_key())
    assert sealed[4] == 0x04  # uncompressed point
    assert sealed[69:81] == nonce
    assert len(sealed) == HEADER + len(TEXT) + TAG
    assert TEXT not in sealed


def test_pinned_ephemeral_key_and_nonce_give_the_same_bytes(recipient):
    ephemeral = generate_agreement_key()
    first = cipher.seal(recipient.public_key(), TEXT, ephemeral=ephemeral, nonce=b"\x01" * 12)
    assert cipher.seal(recipient.public_key(), TEXT, ephemeral=ephemeral, nonce=b"\x01" * 12) == first


def test_each_seal_uses_a_fresh_ephemeral_key_and_nonce(recipient):
    first = cipher.seal(recipient.public_key(), TEXT)
    second = cipher.seal(recipient.public_key(), TEXT)
    assert first[4:69] != second[4:69]
    assert first[69:81] != second[69:81]
    assert first[81:] != second[81:]


def test_open_refuses_any_single_flipped_byte_of_an_envelope(recipient):
    sealed = cipher.seal(recipient.public_key(), b"short", context=b"body", aad=b"station")
    for position in range(len(sealed)):
        for mask in (0x01, 0x80, 0xFF):
            altered = bytearray(sealed)
            altered[position] ^= mask
            with pytest.raises(CipherError):
                cipher.open_sealed(recipient, bytes(altered), context=b"body", aad=b"station")


@pytest.mark.parametrize("keep", [0, 3, 4, HEADER, HEADER + TAG - 1, HEADER + TAG + 1])
def test_open_refuses_a_truncated_envelope(recipient, keep):
    sealed = cipher.seal(recipient.public_key(), b"some plaintext")
    with pytest.raises(CipherError):
        cipher.open_sealed(recipient, sealed[:keep])


def test_open_refuses_an_envelope_with_bytes_appended(recipient):
    sealed = cipher.seal(recipient.public_key(), TEXT)
    with pytest.raises(CipherError):
        cipher.open_sealed(recipient, sealed + b"\x00")


def test_open_refuses_an_envelope_without_the_magic(recipient):
    sealed = cipher.seal(recipient.public_key(), TEXT)
    with pytest.raises(CipherError, match="not an OneTrip envelope"):
        cipher.open_sealed(recipient, b"OTE2" + sealed[4:])


def test_open_refuses_an_envelope_whose_ephemeral_key_is_not_on_the_curve(recipient):
    sealed = bytearray(cipher.seal(recipient.public_key(), TEXT))
    sealed[5:69] = bytes(64)  # 0x04 followed by the point (0, 0)
    with pytest.raises(CipherError, match="ephemeral"):
        cipher.open_sealed(recipient, bytes(sealed))


def test_open_refuses_an_envelope_sealed_to_another_key(recipient, stranger):
    sealed = cipher.seal(recipient.public_key(), TEXT)
    with pytest.raises(CipherError):
        cipher.open_sealed(stranger, sealed)


def test_an_envelope_for_one_context_does_not_open_in_another(recipient):
    sealed = cipher.seal(recipient.public_key(), TEXT, context=b"bundle")
    with pytest.raises(CipherError):
        cipher.open_sealed(recipient, sealed, context=b"body")
    with pytest.raises(CipherError):
        cipher.open_sealed(recipient, sealed)
    assert cipher.open_sealed(recipient, sealed, context=b"bundle") == TEXT


def test_an_envelope_bound_to_associated_data_does_not_open_with_other_data(recipient):
    sealed = cipher.seal(recipient.public_key(), TEXT, aad=b"station-511302001001")
    with pytest.raises(CipherError):
        cipher.open_sealed(recipient, sealed, aad=b"station-511302001002")
    with pytest.raises(CipherError):
        cipher.open_sealed(recipient, sealed)
    assert cipher.open_sealed(recipient, sealed, aad=b"station-511302001001") == TEXT


def test_context_and_associated_data_are_not_interchangeable(recipient):
    sealed = cipher.seal(recipient.public_key(), TEXT, context=b"x")
    with pytest.raises(CipherError):
        cipher.open_sealed(recipient, sealed, aad=b"x")


def test_swapping_the_ephemeral_key_of_another_envelope_is_refused(recipient):
    one = cipher.seal(recipient.public_key(), TEXT)
    two = cipher.seal(recipient.public_key(), TEXT)
    spliced = one[:4] + two[4:69] + one[69:]
    with pytest.raises(CipherError):
        cipher.open_sealed(recipient, spliced)


@pytest.mark.parametrize("curve", [ec.SECP384R1(), ec.SECP256K1()])
def test_seal_refuses_a_recipient_key_not_on_p256(curve):
    with pytest.raises(CipherError, match="P-256"):
        cipher.seal(ec.generate_private_key(curve).public_key(), TEXT)


def test_cipher_error_carries_its_stable_code(recipient):
    with pytest.raises(CipherError) as caught:
        cipher.open_sealed(recipient, b"nonsense")
    assert caught.value.code == "bad_ciphertext"


@settings(deadline=None)
@given(request=st.binary(max_size=500), answer=st.binary(max_size=2000), context=st.binary(max_size=20))
def test_the_reply_to_an_envelope_opens_with_the_key_its_sender_kept(recipient, request, answer, context):
    sealed, kept = cipher.seal_replying(recipient.public_key(), request, context=context, aad=b"n")
    opened, reply_key = cipher.open_replying(recipient, sealed, context=context, aad=b"n")
    assert opened == request and reply_key == kept
    assert cipher.open_reply(kept, cipher.seal_reply(reply_key, answer, aad=b"n"), aad=b"n") == answer


def test_a_reply_layout_is_magic_nonce_then_ciphertext_and_tag(recipient):
    _, key = cipher.seal_replying(recipient.public_key(), b"asked")
    reply = cipher.seal_reply(key, TEXT)
    assert reply[:4] == b"OTR1" and len(reply) == 4 + 12 + len(TEXT) + TAG and TEXT not in reply


def test_a_reply_key_is_neither_the_envelopes_key_nor_another_envelopes_reply_key(recipient):
    """Derived under its own label: a reply cannot be passed off as an envelope, nor answer another request."""
    sealed, key = cipher.seal_replying(recipient.public_key(), TEXT, context=b"sync/pull")
    _, other = cipher.seal_replying(recipient.public_key(), TEXT, context=b"sync/pull")
    _, another_context = cipher.open_replying(
        recipient, cipher.seal(recipient.public_key(), TEXT, context=b"sync/push"), context=b"sync/push"
    )
    assert len({key, other, another_context}) == 3
    reply = cipher.seal_reply(key, b"answer")
    with pytest.raises(CipherError):
        cipher.open_reply(other, reply)
    with pytest.raises(CipherError):  # the reply's magic is not an envelope's
        cipher.open_sealed(recipient, reply)


def test_open_reply_refuses_any_single_flipped_byte_other_associated_data_and_truncation(recipient):
    _, key = cipher.seal_replying(recipient.public_key(), b"asked")
    reply = cipher.seal_reply(key, b"short", aad=b"nonce-1")
    for position in range(len(reply)):
        altered = bytearray(reply)
        altered[position] ^= 0x01
        with pytest.raises(CipherError):
            cipher.open_reply(key, bytes(altered), aad=b"nonce-1")
    with pytest.raises(CipherError):
        cipher.open_reply(key, reply, aad=b"nonce-2")
    for keep in (0, 4, 16, 31):
        with pytest.raises(CipherError):
            cipher.open_reply(key, reply[:keep], aad=b"nonce-1")
