"""Checks on what a resident hands over at intake: ID number, unified social credit code, phone.

Pure: text in, a normalised value or one problem in Chinese (for the agent at the desk) out.
Normalisation first, because people type full-width digits, a lower-case x and spaces.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from node.errors import DomainError
from provisioning.region import PROVINCES

# GB 11643-1999: weight of each of the first 17 digits (2^(17-i) mod 11), and the check
# character for each remainder of the weighted sum mod 11. The one copy in `node/`.
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"

# Residence permits of Hong Kong, Macao and Taiwan residents carry GB 11643 numbers whose
# address code is one of these; 83 is not a GB/T 2260 province, so it must be named here.
PERMIT_REGIONS = frozenset({"810000", "820000", "830000"})

# Nobody alive was born before this year; an earlier date is a typing mistake.
EARLIEST_BIRTH_YEAR = 1900

# GB 32100-2015: the 31 characters a unified social credit code may use (no I, O, Z, S, V,
# which read like 1, 0, 2, 5 and U), and the weight of each of the first 17 (3^i mod 31).
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
CREDIT_LOOKALIKES = {"I": "1", "O": "0", "Z": "2", "S": "5", "V": "U"}

MOBILE = re.compile(r"1[3-9]\d{9}")
# Area codes: 010 and 02x with 8-digit local numbers, 0xxx with 7 or 8; local numbers never start 0 or 1.
LANDLINE = re.compile(r"0(?:10|2\d)[2-9]\d{7}|0[3-9]\d{2}[2-9]\d{6,7}")
CALLING_CODE = re.compile(r"^(?:\+86|0086)")


class BadIdentifier(DomainError):
    """An identifier refused at intake; the message says what is wrong, in Chinese."""

    code = "bad_identifier"


@dataclass(frozen=True)
class IdNumber:
    number: str  # normalised: 18 ASCII characters, an upper-case X if any
    birth_date: date
    region: str  # the 6-digit address code where the number was first issued


def _ascii_compact(text: str) -> str:
    """Full-width forms folded to ASCII (NFKC), every kind of space dropped, letters upper-cased."""
    return "".join(unicodedata.normalize("NFKC", text).split()).upper()


def normalise_id_number(text: str) -> str:
    """An ID number as stored: ASCII digits, an upper-case X, no spaces."""
    return _ascii_compact(text)


def id_check_character(body: str) -> str:
    """The GB 11643 check character of the first 17 digits."""
    return ID_CHECK[sum(int(digit) * weight for digit, weight in zip(body, ID_WEIGHTS, strict=True)) % 11]


def parse_id_number(text: str, today: date) -> IdNumber:
    """A resident ID number with its birth date and region, or `BadIdentifier` saying why not.

    The checksum is checked before the date and the region: a wrong digit anywhere most
    often shows first as a checksum mismatch, and that is the message that helps most.
    """
    number = normalise_id_number(text)
    if not number:
        raise BadIdentifier("请填写身份证号")
    if len(number) == 15 and number.isascii() and number.isdigit():
        raise BadIdentifier("这是 15 位的旧版（第一代）身份证号，没有校验位且已停止使用；请填写 18 位的居民身份证号")
    if len(number) != 18:
        raise BadIdentifier(f"身份证号应为 18 位，收到 {len(number)} 位")
    body, check = number[:17], number[17]
    if not (number.isascii() and body.isdigit() and (check.isdigit() or check == "X")):
        raise BadIdentifier("身份证号前 17 位只能是数字，最后一位是数字或 X")
    if id_check_character(body) != check:
        raise BadIdentifier("身份证号校验位不符，可能有数字输错或前后颠倒，请对照证件逐位核对")
    region = number[:6]
    if not _known_region(region):
        raise BadIdentifier(f"身份证号前 6 位 {region} 不是已知的地区代码")
    birth_date = _birth_date(number[6:14], today)
    return IdNumber(number, birth_date, region)


def id_number_problem(text: str, today: date) -> str | None:
    """What is wrong with an ID number, in Chinese; None if it is valid."""
    try:
        parse_id_number(text, today)
    except BadIdentifier as exc:
        return str(exc)
    return None


def _known_region(region: str) -> bool:
    """A province that exists and a prefecture that is not 00 (the county digits may be
    00: early numbers were issued by a prefecture's own public security bureau)."""
    if region in PERMIT_REGIONS:
        return True
    return int(region[:2]) in PROVINCES and region[2:4] != "00"


def _birth_date(digits: str, today: date) -> date:
    try:
        born = date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        raise BadIdentifier(f"身份证号中的出生日期 {digits} 不是真实存在的日期") from None
    if born > today:
        raise BadIdentifier(f"身份证号中的出生日期 {born.isoformat()} 晚于今天")
    if born.year < EARLIEST_BIRTH_YEAR:
        raise BadIdentifier(f"身份证号中的出生日期 {born.isoformat()} 早于 {EARLIEST_BIRTH_YEAR} 年，请核对")
    return born


def mask_id_number(text: str) -> str:
    """An ID number safe to show on a list or a receipt: the first 3 and last 4 characters kept."""
    number = normalise_id_number(text)
    if len(number) <= 7:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


def mask_name(name: str) -> str:
    """A name safe to show to whoever holds a receipt: its first character, the rest as stars."""
    name = name.strip()
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""


def normalise_credit_code(text: str) -> str:
    """A unified social credit code as stored: ASCII, upper case, no spaces."""
    return _ascii_compact(text)


def credit_check_character(body: str) -> str:
    """The GB 32100 check character of the first 17 characters (all from the alphabet)."""
    total = sum(CREDIT_ALPHABET.index(char) * weight for char, weight in zip(body, CREDIT_WEIGHTS, strict=True))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def credit_code_problem(text: str) -> str | None:
    """What is wrong with a unified social credit code (GB 32100), in Chinese; None if valid."""
    code = normalise_credit_code(text)
    if not code:
        return "请填写统一社会信用代码"
    if len(code) != 18:
        return f"统一社会信用代码应为 18 位，收到 {len(code)} 位"
    for position, char in enumerate(code, start=1):
        if char in CREDIT_LOOKALIKES:
            return (
                f"统一社会信用代码不使用字母 I、O、Z、S、V：第 {position} 位的“{char}”"
                f"可能是“{CREDIT_LOOKALIKES[char]}”的误写"
            )
        if char not in CREDIT_ALPHABET:
            return f"统一社会信用代码第 {position} 位的“{char}”不是允许的字符（数字或大写字母）"
    if not code[2:8].isdigit():
        return "统一社会信用代码第 3–8 位是登记机关的行政区划码，只能是数字"
    if credit_check_character(code[:17]) != code[17]:
        return "统一社会信用代码校验位不符，可能有字符输错或前后颠倒，请对照营业执照逐位核对"
    return None


def normalise_phone(text: str) -> str:
    """A phone number as stored: its digits only, without +86 and without separators."""
    compact = CALLING_CODE.sub("", _ascii_compact(text))
    return "".join(char for char in compact if char not in "-()")


def phone_problem(text: str) -> str | None:
    """What is wrong with a phone number, in Chinese; None for a mainland mobile or a landline with area code."""
    phone = normalise_phone(text)
    if not phone:
        return "请填写联系电话"
    if MOBILE.fullmatch(phone) or LANDLINE.fullmatch(phone):
        return None
    if phone.isdigit() and phone.startswith("1"):
        return "手机号应为 11 位数字，以 13–19 开头"
    return "请填写 11 位手机号，或带区号的座机号码（如 0831-2345678）"
