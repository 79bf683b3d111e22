"""查询码: the short code on every receipt with which a resident follows a case by phone or on the query page.

Ten characters: nine drawn by `secrets`, then one check character. The alphabet leaves out the characters
people mix up when they read a paper aloud or type it (0/O, 1/I/L): 2–9 and the 23 other capital letters,
31 in all. 31 is prime, so a weighted sum modulo 31 with the weights 1…10 catches every single wrong
character (a change d·w ≠ 0 mod 31 for d, w ≢ 0) and every swap of two neighbours (a change
(a − b)·(wᵢ − wᵢ₊₁) = (b − a) ≢ 0): a misheard code is told as mistyped, not looked up as someone else's.
Pure: no I/O but the random draw.
"""

from __future__ import annotations

import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
RANDOM_LENGTH = 9
LENGTH = RANDOM_LENGTH + 1
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_BASE = len(ALPHABET)  # prime: every non-zero weight and difference has an inverse


def check_character(body: str) -> str:
    """The character that makes Σ (i+1)·value(cᵢ) over all ten ≡ 0 (mod 31)."""
    total = sum((i + 1) * _VALUE[c] for i, c in enumerate(body))
    inverse = pow(LENGTH, -1, _BASE)  # the check character's weight is 10
    return ALPHABET[(-total * inverse) % _BASE]


def make() -> str:
    """A fresh code, nine random characters and the check character."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return body + check_character(body)


def normalise(text: str) -> str:
    """What a person typed as the code: upper case, spaces and dashes (the printed grouping) dropped."""
    return "".join(c for c in text.upper() if c not in " -\u3000\t")


def check(code: str) -> str | None:
    """Why `code` (normalised) cannot be a query code, in Chinese; None if it can."""
    if len(code) != LENGTH:
        return f"查询码应为 {LENGTH} 位，收到的是 {len(code)} 位"
    unknown = sorted({c for c in code if c not in _VALUE})
    if unknown:
        return f"查询码中没有这些字符：{'、'.join(unknown)}（查询码不用数字 0、1 和字母 I、L、O）"
    if check_character(code[:-1]) != code[-1]:
        return "查询码有误：请逐位核对回执上的查询码"
    return None


def grouped(code: str) -> str:
    """As printed and read aloud: two groups of five."""
    return f"{code[:5]}-{code[5:]}"
