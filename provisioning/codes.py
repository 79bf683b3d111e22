"""Enrolment codes: short, typeable, with a check character so that a typo is caught at once.

Ten characters of Crockford base32 (no I, L, O, U: nothing to confuse with 1, 0
or V) carry 50 random bits; an eleventh is a Luhn mod 32 check character, from
the same alphabet (so it stays typeable), which catches every single mistyped
character and most swapped neighbours. Shown as `XXXX-XXXX-XXX`; hyphens, spaces
and case are ignored when typed. Pure.
"""

from __future__ import annotations

import hashlib
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_READ_AS = {"O": "0", "I": "1", "L": "1"}
BODY = 10


def _luhn_sum(text: str, double_first: bool) -> int:
    """Luhn mod N over the alphabet, from the right; every second value doubled."""
    total, double = 0, double_first
    for char in reversed(text):
        value = ALPHABET.index(char) * (2 if double else 1)
        total += value // 32 + value % 32
        double = not double
    return total


def check_character(body: str) -> str:
    return ALPHABET[-_luhn_sum(body, True) % 32]


def new_code() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY))
    code = body + check_character(body)
    return f"{code[:4]}-{code[4:8]}-{code[8:]}"


def normalise(typed: str) -> str:
    """Upper-case, drop separators, read O as 0 and I/L as 1, as Crockford's spec says."""
    text = "".join(c for c in typed.upper() if c not in "- ")
    return "".join(_READ_AS.get(c, c) for c in text)


def code_problem(typed: str) -> str | None:
    """Why a typed code cannot be right, before any request is made; None if it can."""
    code = normalise(typed)
    if len(code) != BODY + 1:
        return f"注册码应为 {BODY + 1} 个字符（不含连字符），输入了 {len(code)} 个"
    if any(c not in ALPHABET for c in code):
        return "注册码含有无效字符（注册码不含 I、L、O、U）" if "U" in code else "注册码含有无效字符"
    if _luhn_sum(code, False) % 32:
        return "注册码校验位不符：请检查是否输错了某个字符"
    return None


def code_hash(typed: str) -> str:
    """What the hub keeps: never the code itself."""
    return hashlib.sha256(("onetrip/enrolment/" + normalise(typed)).encode()).hexdigest()
