"""sync/fields.py: residents' personal fields encrypted per entity, searchable by keyed hash."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync import cipher, fields
from sync.errors import CipherError
from sync.keys import generate_agreement_key

ENTITY = "app/511302001001-0001"
ID_NUMBER = "11010119900307451X"
LOOKUP_KEY = b"k" * 32


@pytest.fixture(scope="module")
def station():
    return generate_agreement_key()


@pytest.fixture(scope="module")
def county():
    return generate_agreement_key()


@pytest.fixture
def data_key() -> bytes:
    return fields.new_data_key()


def test_data_keys_are_32_random_bytes():
    first, second = fields.new_data_key(), fields.new_data_key()
    assert len(first) == len(second) == 32
    assert first != second


def test_a_field_decrypts_to_its_value(data_key):
    token = fields.encrypt_field(data_key, ENTITY, "id_number", ID_NUMBER)
    assert fields.decrypt_field(data_key, ENTITY, "id_number", token) == ID_NUMBER


@settings(deadline=None)
@given(value=st.text(max_size=200), name=st.text(min_size=1, max_size=20))
def test_encrypt_then_decrypt_round_trips_any_text(value, name):
    data_key = b"\x07" * 32
    token = fields.encrypt_field(data_key, ENTITY, name, value)
    assert fields.decrypt_field(data_key, ENTITY, name, token) == value


def test_a_token_is_url_safe_ascii_and_hides_the_value(data_key):
    token = fields.encrypt_field(data_key, ENTITY, "name", "张三")
    assert token.isascii()
    assert "+" not in token and "/" not in token
    assert "张三".encode() not in base64.urlsafe_b64decode(token)


def test_the_same_value_encrypts_differently_each_time(data_key):
    one = fields.encrypt_field(data_key, ENTITY, "id_number", ID_NUMBER)
    two = fields.encrypt_field(data_key, ENTITY, "id_number", ID_NUMBER)
    assert one != two


def test_a_pinned_nonce_gives_the_same_token(data_key):
    nonce = bytes(12)
    one = fields.encrypt_field(data_key, ENTITY, "name", "李四", nonce=nonce)
    assert fields.encrypt_field(data_key, ENTITY, "name", "李四", nonce=nonce) == one


def test_a_field_does_not_decrypt_under_another_entity(data_key):
    token = fields.encrypt_field(data_key, ENTITY, "id_number", ID_NUMBER)
    with pytest.raises(CipherError):
        fields.decrypt_field(data_key, "app/511302001001-0002", "id_number", token)


def test_a_field_does_not_decrypt_under_another_field_name(data_key):
    token = fields.encrypt_field(data_key, ENTITY, "id_number", ID_NUMBER)
    with pytest.raises(CipherError) as caught:
        fields.decrypt_field(data_key, ENTITY, "phone", token)
    assert "phone" in str(caught.value) and ENTITY in str(caught.value)


def test_a_field_does_not_decrypt_under_another_data_key(data_key):
    token = fields.encrypt_field(data_key, ENTITY, "id_number", ID_NUMBER)
    with pytest.raises(CipherError):
        fields.decrypt_field(fields.new_data_key(), ENTITY, "id_number", token)


def test_a_token_with_any_byte_changed_is_refused(data_key):
    sealed = base64.urlsafe_b64decode(fields.encrypt_field(data_key, ENTITY, "name", "王五"))
    for position in range(len(sealed)):
        altered = bytearray(sealed)
        altered[position] ^= 0x01
        with pytest.raises(CipherError):
            fields.decrypt_field(data_key, ENTITY, "name", base64.urlsafe_b64encode(bytes(altered)).decode())


@pytest.mark.parametrize(
    "token", ["", "!!!not base64!!!", "abc", "身份证", base64.urlsafe_b64encode(b"short").decode()]
)
def test_a_token_that_is_not_a_sealed_field_is_refused_with_cipher_error(data_key, token):
    with pytest.raises(CipherError):
        fields.decrypt_field(data_key, ENTITY, "name", token)


def test_a_wrapped_data_key_unwraps_for_its_recipient_and_entity(data_key, station):
    wrapped = fields.wrap_data_key(data_key, station.public_key(), ENTITY)
    assert data_key not in wrapped
    assert fields.unwrap_data_key(wrapped, station, ENTITY) == data_key


def test_a_data_key_wrapped_for_each_recipient_unwraps_for_each(data_key, station, county):
    for recipient in (station, county):
        wrapped = fields.wrap_data_key(data_key, recipient.public_key(), ENTITY)
        assert fields.unwrap_data_key(wrapped, recipient, ENTITY) == data_key


def test_a_wrapped_data_key_does_not_unwrap_for_another_recipient(data_key, station, county):
    wrapped = fields.wrap_data_key(data_key, station.public_key(), ENTITY)
    with pytest.raises(CipherError):
        fields.unwrap_data_key(wrapped, county, ENTITY)


def test_a_wrapped_data_key_does_not_unwrap_for_another_entity(data_key, station):
    wrapped = fields.wrap_data_key(data_key, station.public_key(), ENTITY)
    with pytest.raises(CipherError):
        fields.unwrap_data_key(wrapped, station, "app/511302001001-0002")


def test_a_wrapped_data_key_does_not_open_as_another_kind_of_envelope(data_key, station):
    wrapped = fields.wrap_data_key(data_key, station.public_key(), ENTITY)
    with pytest.raises(CipherError):
        cipher.open_sealed(station, wrapped, aad=ENTITY.encode())
    with pytest.raises(CipherError):
        cipher.open_sealed(station, wrapped, context=b"body", aad=ENTITY.encode())


def test_an_envelope_of_another_use_does_not_unwrap_as_a_data_key(data_key, station):
    body = cipher.seal(station.public_key(), data_key, context=b"body", aad=ENTITY.encode())
    with pytest.raises(CipherError):
        fields.unwrap_data_key(body, station, ENTITY)


def test_fields_read_after_an_unwrap_match_what_was_written(data_key, station):
    token = fields.encrypt_field(data_key, ENTITY, "name", "赵六")
    wrapped = fields.wrap_data_key(data_key, station.public_key(), ENTITY)
    assert fields.decrypt_field(fields.unwrap_data_key(wrapped, station, ENTITY), ENTITY, "name", token) == "赵六"


def test_lookup_hash_matches_a_full_width_id_number_with_a_lower_case_x():
    full_width = "１１０１０１１９９００３０７４５１ｘ"
    assert fields.lookup_hash(LOOKUP_KEY, "id_number", full_width) == fields.lookup_hash(
        LOOKUP_KEY, "id_number", ID_NUMBER
    )


@pytest.mark.parametrize("variant", ["11010119900307451x", f"  {ID_NUMBER}\t", f"\u3000{ID_NUMBER}\n"])
def test_lookup_hash_ignores_case_and_surrounding_space(variant):
    assert fields.lookup_hash(LOOKUP_KEY, "id_number", variant) == fields.lookup_hash(
        LOOKUP_KEY, "id_number", ID_NUMBER
    )


def test_lookup_hash_tells_different_values_apart():
    assert fields.lookup_hash(LOOKUP_KEY, "id_number", ID_NUMBER) != fields.lookup_hash(
        LOOKUP_KEY, "id_number", "110101199003074512"
    )


def test_lookup_hash_differs_by_kind_for_the_same_value():
    assert fields.lookup_hash(LOOKUP_KEY, "id_number", "13800000000") != fields.lookup_hash(
        LOOKUP_KEY, "phone", "13800000000"
    )


def test_lookup_hash_differs_by_lookup_key():
    assert fields.lookup_hash(LOOKUP_KEY, "id_number", ID_NUMBER) != fields.lookup_hash(
        b"j" * 32, "id_number", ID_NUMBER
    )


def test_lookup_hash_is_a_hex_sha256_digest():
    digest = fields.lookup_hash(LOOKUP_KEY, "name", "张三")
    assert len(digest) == 64
    int(digest, 16)


def test_normalise_folds_full_width_forms_and_upper_cases():
    assert fields.normalise("１２３ａｂｃ") == "123ABC"
    assert fields.normalise(" 张三 ") == "张三"
