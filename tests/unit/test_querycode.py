"""The query code: readable, and a misheard or mistyped code is caught by its check character."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from node.rules import querycode
from node.rules.querycode import ALPHABET, LENGTH, check, make, normalise

bodies = st.text(alphabet=ALPHABET, min_size=LENGTH - 1, max_size=LENGTH - 1)
codes = bodies.map(lambda body: body + querycode.check_character(body))


def test_the_alphabet_has_no_look_alikes_and_a_made_code_checks():
    assert not set("01ILO") & set(ALPHABET) and len(ALPHABET) == 31
    code = make()
    assert len(code) == 10 and check(code) is None


@given(codes, st.integers(0, LENGTH - 1), st.sampled_from(ALPHABET))
def test_every_single_wrong_character_is_caught(code, at, character):
    wrong = code[:at] + character + code[at + 1 :]
    assert (check(wrong) is None) == (wrong == code)


@given(codes, st.integers(0, LENGTH - 2))
def test_every_swap_of_neighbours_is_caught(code, at):
    swapped = code[:at] + code[at + 1] + code[at] + code[at + 2 :]
    assert (check(swapped) is None) == (swapped == code)


@given(codes)
def test_lower_case_spaces_and_dashes_are_read_as_the_code(code):
    typed = f" {code[:5].lower()}-{code[5:]} "
    assert normalise(typed) == code and check(normalise(typed)) is None
    assert normalise(querycode.grouped(code)) == code


def test_what_is_wrong_is_said_in_chinese():
    assert "10 位" in check("ABC")
    assert "0" in check("0" * 10) and "I" in check("I" * 10)
    code = make()
    other = next(c for c in ALPHABET if c != code[-1])
    assert check(code[:-1] + other).startswith("查询码有误")
