"""sync/keys.py: signing keys bound to an allow-listed algorithm, and secret files."""

from __future__ import annotations

import hashlib
import os
import stat

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from hypothesis import given, settings
from hypothesis import strategies as st

from sync import keys
from sync.errors import SignatureError, UnsupportedAlgorithm
from sync.keys import ALGORITHMS, ECDSA_P256, ED25519, SigningKey, VerifyingKey

MESSAGE = "办件 511302001001-0001 head".encode()


@pytest.fixture(scope="module", params=ALGORITHMS)
def key(request) -> SigningKey:
    return SigningKey.generate(request.param)


@pytest.fixture(scope="module")
def other_keys() -> dict[str, SigningKey]:
    return {algorithm: SigningKey.generate(algorithm) for algorithm in ALGORITHMS}


def test_default_algorithm_is_ecdsa_p256():
    generated = SigningKey.generate()
    assert generated.algorithm == ECDSA_P256
    assert isinstance(generated.private_key.curve, ec.SECP256R1)


def test_a_signature_verifies_with_the_signers_verifying_key(key):
    key.verifying_key.verify(key.sign(MESSAGE), MESSAGE)


@settings(deadline=None)
@given(message=st.binary(max_size=300))
def test_sign_then_verify_holds_for_any_message(key, message):
    key.verifying_key.verify(key.sign(message), message)


def test_ecdsa_signatures_are_64_raw_bytes_and_deterministic():
    signing = SigningKey.generate(ECDSA_P256)
    first = signing.sign(MESSAGE)
    assert len(first) == 64
    # raw r||s (not DER): the halves re-encoded as DER verify with the library directly
    der = encode_dss_signature(int.from_bytes(first[:32], "big"), int.from_bytes(first[32:], "big"))
    signing.private_key.public_key().verify(der, MESSAGE, ec.ECDSA(hashes.SHA256()))
    assert signing.sign(MESSAGE) == first
    assert signing.sign(MESSAGE + b".") != first


def test_ecdsa_signature_survives_a_pem_round_trip_byte_for_byte():
    signing = SigningKey.generate(ECDSA_P256)
    restored = SigningKey.from_pem(ECDSA_P256, signing.to_pem())
    assert restored.sign(MESSAGE) == signing.sign(MESSAGE)


def test_ed25519_signatures_are_64_bytes_and_deterministic():
    signing = SigningKey.generate(ED25519)
    assert len(signing.sign(MESSAGE)) == 64
    assert signing.sign(MESSAGE) == signing.sign(MESSAGE)


def test_verify_refuses_a_signature_by_another_key(key, other_keys):
    other = other_keys[key.algorithm]
    with pytest.raises(SignatureError):
        key.verifying_key.verify(other.sign(MESSAGE), MESSAGE)


def test_verify_refuses_a_modified_message(key):
    signature = key.sign(MESSAGE)
    with pytest.raises(SignatureError):
        key.verifying_key.verify(signature, MESSAGE + b" ")
    with pytest.raises(SignatureError):
        key.verifying_key.verify(signature, b"X" + MESSAGE[1:])


@pytest.mark.parametrize("cut", [0, 1, 32, 63])
def test_verify_refuses_a_truncated_signature(key, cut):
    signature = key.sign(MESSAGE)
    with pytest.raises(SignatureError):
        key.verifying_key.verify(signature[:cut], MESSAGE)


def test_verify_refuses_a_signature_with_bytes_appended(key):
    with pytest.raises(SignatureError):
        key.verifying_key.verify(key.sign(MESSAGE) + b"\x00", MESSAGE)


@settings(deadline=None)
@given(position=st.integers(min_value=0, max_value=63), mask=st.integers(min_value=1, max_value=255))
def test_verify_refuses_a_signature_with_any_byte_changed(key, position, mask):
    signature = bytearray(key.sign(MESSAGE))
    signature[position] ^= mask
    with pytest.raises(SignatureError):
        key.verifying_key.verify(bytes(signature), MESSAGE)


def test_verify_refuses_an_all_zero_ecdsa_signature():
    with pytest.raises(SignatureError):
        SigningKey.generate(ECDSA_P256).verifying_key.verify(bytes(64), MESSAGE)


def test_verify_refuses_a_der_encoded_ecdsa_signature():
    signing = SigningKey.generate(ECDSA_P256)
    der = signing.private_key.sign(MESSAGE, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(SignatureError):
        signing.verifying_key.verify(der, MESSAGE)


def test_an_ed25519_signature_does_not_verify_under_an_ecdsa_key_even_at_64_bytes(other_keys):
    ed_signature = other_keys[ED25519].sign(MESSAGE)
    assert len(ed_signature) == 64
    with pytest.raises(SignatureError):
        other_keys[ECDSA_P256].verifying_key.verify(ed_signature, MESSAGE)


@pytest.mark.parametrize(
    "algorithm", ["none", "rsa", "RSA-SHA256", "", "ECDSA-P256-SHA256", "hs256", "ecdsa-p384-sha384"]
)
def test_algorithms_outside_the_allow_list_are_refused_everywhere(algorithm, other_keys):
    with pytest.raises(UnsupportedAlgorithm):
        SigningKey.generate(algorithm)
    with pytest.raises(UnsupportedAlgorithm):
        VerifyingKey(algorithm, other_keys[ECDSA_P256].verifying_key.public_key)
    with pytest.raises(UnsupportedAlgorithm):
        VerifyingKey.from_public_bytes(algorithm, other_keys[ECDSA_P256].verifying_key.public_bytes())
    with pytest.raises(UnsupportedAlgorithm):
        SigningKey.from_pem(algorithm, other_keys[ECDSA_P256].to_pem())


def test_unsupported_algorithm_carries_its_stable_code():
    with pytest.raises(UnsupportedAlgorithm) as caught:
        SigningKey.generate("none")
    assert caught.value.code == "unsupported_algorithm"


def test_an_ed25519_key_declared_as_ecdsa_is_refused():
    public = ed25519.Ed25519PrivateKey.generate().public_key()
    with pytest.raises(UnsupportedAlgorithm):
        VerifyingKey(ECDSA_P256, public)


def test_an_ecdsa_key_declared_as_ed25519_is_refused():
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(UnsupportedAlgorithm):
        VerifyingKey(ED25519, public)


@pytest.mark.parametrize("curve", [ec.SECP384R1(), ec.SECP256K1(), ec.SECP521R1()])
def test_an_ecdsa_key_on_another_curve_is_refused(curve):
    public = ec.generate_private_key(curve).public_key()
    with pytest.raises(UnsupportedAlgorithm):
        VerifyingKey(ECDSA_P256, public)
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(UnsupportedAlgorithm):
        VerifyingKey.from_public_bytes(ECDSA_P256, der)


def test_public_bytes_declared_with_the_wrong_algorithm_are_refused(other_keys):
    ecdsa_der = other_keys[ECDSA_P256].verifying_key.public_bytes()
    ed_der = other_keys[ED25519].verifying_key.public_bytes()
    with pytest.raises(UnsupportedAlgorithm):
        VerifyingKey.from_public_bytes(ED25519, ecdsa_der)
    with pytest.raises(UnsupportedAlgorithm):
        VerifyingKey.from_public_bytes(ECDSA_P256, ed_der)


def test_a_private_key_loaded_under_the_wrong_algorithm_is_refused(other_keys):
    with pytest.raises(UnsupportedAlgorithm):
        SigningKey.from_pem(ED25519, other_keys[ECDSA_P256].to_pem())
    with pytest.raises(UnsupportedAlgorithm):
        SigningKey.from_pem(ECDSA_P256, other_keys[ED25519].to_pem())
    p384_pem = keys.private_pem(ec.generate_private_key(ec.SECP384R1()))
    with pytest.raises(UnsupportedAlgorithm):
        SigningKey.from_pem(ECDSA_P256, p384_pem)


def test_from_public_bytes_refuses_bytes_that_are_not_a_key():
    with pytest.raises(SignatureError):
        VerifyingKey.from_public_bytes(ECDSA_P256, b"\x30\x03not a key")


def test_public_bytes_round_trip_keeps_the_key_and_its_id(key):
    verifying = key.verifying_key
    restored = VerifyingKey.from_public_bytes(key.algorithm, verifying.public_bytes())
    assert restored.key_id == verifying.key_id
    assert verifying.key_id == hashlib.sha256(verifying.public_bytes()).hexdigest()[:32]  # the public key's hash
    restored.verify(key.sign(MESSAGE), MESSAGE)


def test_key_ids_differ_between_keys():
    ids = {SigningKey.generate(a).verifying_key.key_id for a in ALGORITHMS for _ in range(2)}
    assert len(ids) == 2 * len(ALGORITHMS)


def test_pem_round_trip_gives_a_key_that_signs_for_the_same_verifying_key(key):
    restored = SigningKey.from_pem(key.algorithm, key.to_pem())
    key.verifying_key.verify(restored.sign(MESSAGE), MESSAGE)
    assert restored.verifying_key.key_id == key.verifying_key.key_id


def test_agreement_keys_are_p256_and_fresh_each_time():
    first, second = keys.generate_agreement_key(), keys.generate_agreement_key()
    assert isinstance(first.curve, ec.SECP256R1)
    assert first.private_numbers().private_value != second.private_numbers().private_value


def test_write_secret_creates_a_file_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "keys" / "signing.pem"
    keys.write_secret(path, b"secret")
    assert path.read_bytes() == b"secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_write_secret_is_0600_even_under_a_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        keys.write_secret(tmp_path / "agreement.pem", b"k")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "agreement.pem").stat().st_mode) == 0o600


def test_write_secret_creates_missing_parent_folders_private_to_the_owner(tmp_path):
    path = tmp_path / "data" / "keys" / "signing.pem"
    keys.write_secret(path, b"x")
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_write_secret_refuses_to_overwrite_an_existing_file(tmp_path):
    path = tmp_path / "signing.pem"
    keys.write_secret(path, b"first")
    with pytest.raises(FileExistsError):
        keys.write_secret(path, b"second")
    assert path.read_bytes() == b"first"


def test_write_secret_refuses_to_overwrite_a_file_it_did_not_write(tmp_path):
    path = tmp_path / "signing.pem"
    path.write_bytes(b"someone else's")
    with pytest.raises(FileExistsError):
        keys.write_secret(path, b"mine")
    assert path.read_bytes() == b"someone else's"
