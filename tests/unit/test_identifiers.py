"""node/rules/identifiers.py: ID numbers, unified social credit codes and phone numbers at intake."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.rules.identifiers import (
    CREDIT_ALPHABET,
    BadIdentifier,
    IdNumber,
    credit_check_character,
    credit_code_problem,
    id_check_character,
    id_number_problem,
    mask_id_number,
    normalise_id_number,
    normalise_phone,
    parse_id_number,
    phone_problem,
)

TODAY = date(2026, 3, 9)
CJK = re.compile(r"[\u4e00-\u9fff]")
SAMPLE_ID = "11010519491231002X"  # the worked example of GB 11643-1999


def with_check(body: str) -> str:
    return body + id_check_character(body)


def test_the_standards_worked_example_is_valid_and_yields_its_birth_date_and_region():
    assert parse_id_number(SAMPLE_ID, TODAY) == IdNumber(SAMPLE_ID, date(1949, 12, 31), "110105")
    assert id_number_problem(SAMPLE_ID, TODAY) is None


def test_full_width_digits_a_lower_case_x_and_spaces_are_normalised():
    typed = "１１０１０５ １９４９１２３１ ００２ｘ"
    assert normalise_id_number(typed) == SAMPLE_ID
    assert normalise_id_number("11010519491231002x") == SAMPLE_ID
    assert parse_id_number(typed, TODAY).number == SAMPLE_ID


def test_a_15_digit_legacy_number_is_refused_saying_it_is_the_old_format():
    problem = id_number_problem("110105491231002", TODAY)
    assert "15 位" in problem and "旧版" in problem and "18 位" in problem


def test_a_wrong_check_character_is_refused_as_a_checksum_mismatch():
    assert "校验位不符" in id_number_problem("110105194912310021", TODAY)


def test_two_swapped_digits_are_caught_by_the_checksum():
    assert "校验位不符" in id_number_problem("11010519491321002X", TODAY)


@given(position=st.integers(0, 16), digit=st.sampled_from("0123456789"))
def test_any_single_mistyped_digit_is_caught(position, digit):
    typo = SAMPLE_ID[:position] + digit + SAMPLE_ID[position + 1 :]
    if typo != SAMPLE_ID:
        assert id_number_problem(typo, TODAY) is not None


@pytest.mark.parametrize(
    ("number", "words"),
    [
        ("", "请填写"),
        ("1101051949123100", "18 位，收到 16 位"),
        ("11010519491231002XX", "18 位，收到 19 位"),
        ("1101051949A231002X", "只能是数字"),
        ("X10105194912310021", "只能是数字"),
    ],
)
def test_malformed_numbers_are_refused_with_a_reason(number, words):
    assert words in id_number_problem(number, TODAY)


def test_a_birth_date_that_does_not_exist_is_refused():
    assert "不是真实存在的日期" in id_number_problem(with_check("11010519490230002"), TODAY)


def test_a_birth_date_after_today_is_refused():
    assert "晚于今天" in id_number_problem(with_check("11010520260310002"), TODAY)


def test_a_newborn_registered_on_the_day_of_birth_is_accepted():
    assert parse_id_number(with_check("51130220260309002"), TODAY).birth_date == TODAY


def test_a_birth_date_before_1900_is_refused_as_a_typing_mistake():
    assert "早于 1900 年" in id_number_problem(with_check("11010518991231002"), TODAY)


@pytest.mark.parametrize("region", ["990105", "000105", "110005", "510000"])
def test_a_number_from_an_unknown_region_is_refused(region):
    assert "地区代码" in id_number_problem(with_check(region + "19491231002"), TODAY)


def test_a_number_issued_by_a_prefecture_without_county_digits_is_accepted():
    assert parse_id_number(with_check("51130019800101002"), TODAY).region == "511300"


@pytest.mark.parametrize("region", ["810000", "820000", "830000"])
def test_residence_permit_numbers_of_hong_kong_macao_and_taiwan_residents_are_accepted(region):
    assert id_number_problem(with_check(region + "19800101002"), TODAY) is None


def test_parse_raises_a_domain_error_carrying_the_same_message():
    with pytest.raises(BadIdentifier, match="校验位不符"):
        parse_id_number("110105194912310021", TODAY)


def test_a_masked_id_number_keeps_the_first_three_and_last_four():
    assert mask_id_number(SAMPLE_ID) == "110***********002X"
    assert mask_id_number("１１０１０５１９４９１２３１００２ｘ") == "110***********002X"
    assert mask_id_number("12345") == "*****"


VALID_CREDIT_CODES = ["91350100M000100Y43", "9111000071093465XC", "91110108551385082Q", "911100001000128855"]


@pytest.mark.parametrize("code", VALID_CREDIT_CODES)
def test_real_credit_codes_are_valid(code):
    assert credit_code_problem(code) is None


def test_a_credit_code_typed_in_lower_case_full_width_or_with_spaces_is_normalised():
    assert credit_code_problem("9135 0100 m000 100y 43") is None
    assert credit_code_problem("９１３５０１００Ｍ０００１００Ｙ４３") is None


@pytest.mark.parametrize(("letter", "hint"), [("I", "1"), ("O", "0"), ("Z", "2"), ("S", "5"), ("V", "U")])
def test_a_credit_code_with_a_letter_it_never_uses_names_the_letter(letter, hint):
    problem = credit_code_problem("91350100M000100" + letter + "43")
    assert f"第 16 位的“{letter}”" in problem and f"“{hint}”" in problem


def test_a_credit_code_with_a_wrong_check_character_is_refused():
    assert "校验位不符" in credit_code_problem("91350100M000100Y44")


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("", "请填写"),
        ("91350100M000100Y4", "18 位，收到 17 位"),
        ("913501-0M000100Y43", "不是允许的字符"),
        ("9135A100M000100Y43", "第 3–8 位"),
    ],
)
def test_malformed_credit_codes_are_refused_with_a_reason(code, words):
    assert words in credit_code_problem(code)


credit_bodies = st.tuples(
    st.text(CREDIT_ALPHABET, min_size=2, max_size=2),
    st.text("0123456789", min_size=6, max_size=6),
    st.text(CREDIT_ALPHABET, min_size=9, max_size=9),
).map("".join)


@given(body=credit_bodies, position=st.integers(0, 17), char=st.sampled_from(CREDIT_ALPHABET))
def test_a_generated_credit_code_is_valid_and_any_single_substitution_is_caught(body, position, char):
    code = body + credit_check_character(body)
    assert credit_code_problem(code) is None
    typo = code[:position] + char + code[position + 1 :]
    if typo != code:
        assert credit_code_problem(typo) is not None


@pytest.mark.parametrize(
    "phone",
    ["13812345678", "19912345678", "+86 138 1234 5678", "0086-13812345678", "138-1234-5678", "１３８１２３４５６７８"]
    + ["010-62345678", "0831-2345678", "0831-82345678", "(0831)2345678", "021 52345678"],
)
def test_mainland_mobiles_and_landlines_with_an_area_code_are_accepted(phone):
    assert phone_problem(phone) is None


@pytest.mark.parametrize(
    ("phone", "words"),
    [
        ("", "请填写"),
        ("1381234567", "11 位"),
        ("138123456789", "11 位"),
        ("12812345678", "13–19"),
        ("2345678", "区号"),
        ("0831-0345678", "区号"),
        ("010-2345678", "区号"),
        ("电话", "区号"),
    ],
)
def test_other_phone_numbers_are_refused_with_a_reason(phone, words):
    assert words in phone_problem(phone)


def test_a_phone_number_is_stored_as_its_digits():
    assert normalise_phone("+86 138-1234-5678") == "13812345678"
    assert normalise_phone("(0831) 234-5678") == "08312345678"


@pytest.mark.parametrize(
    "problem",
    [
        id_number_problem("110105491231002", TODAY),
        id_number_problem("110105194912310021", TODAY),
        credit_code_problem("91350100M000100O43"),
        phone_problem("12345"),
    ],
)
def test_every_problem_is_written_in_chinese(problem):
    assert CJK.search(problem)
