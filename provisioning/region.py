"""Levels of the service network and the administrative division codes that place a station.

Codes follow the national statistical division codes: 6 digits for a city or a
county (GB/T 2260), 9 for a township, 12 for a village. Pure: strings in, a list
of problems (in Chinese, for the person typing them) out.
"""

from __future__ import annotations

import datetime as dt

# Beijing time: every date and time a person reads, and the day an event or a deadline falls on.
CHINA = dt.timezone(dt.timedelta(hours=8))
LEVELS = ("village", "township", "county", "city")
# Where a resident's case is handled and their data may be read (DESIGN invariant 12): not the city.
HANDLING_LEVELS = ("village", "township", "county")
LEVEL_NAMES = {"village": "村便民服务代办点", "township": "乡镇便民服务中心", "county": "县级枢纽", "city": "市级枢纽"}
# The levels a catalogue item may name as its deciding level (决定层级), in the words of the catalogue.
DECIDING_LEVELS = {"township": "乡镇", "county": "县级"}
DIGITS = {"city": 6, "county": 6, "township": 9, "village": 12}

# Province-level prefixes of GB/T 2260 (including Taiwan, Hong Kong and Macao).
PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46}
    | {50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82}
)


# Prefecture-level cities with no counties: their townships sit directly under the city,
# so the county digits of a township or village code are 00 (东莞, 中山, 儋州, 嘉峪关).
NO_COUNTY_PREFECTURES = frozenset({"4419", "4420", "4604", "6202"})


def region_problems(level: str, code: str) -> list[str]:
    """Everything wrong with a (level, division code) pair; empty if it is well formed."""
    if level not in LEVELS:
        return [f"未知的层级 {level!r}：应为 {' / '.join(LEVELS)} 之一"]
    want = DIGITS[level]
    if not (code.isascii() and code.isdigit()):
        return [f"区划代码 {code!r} 只能由数字组成"]
    if len(code) != want:
        return [f"{LEVEL_NAMES[level]}的区划代码应为 {want} 位数字，收到 {len(code)} 位"]
    problems = []
    if int(code[:2]) not in PROVINCES:
        problems.append(f"区划代码 {code} 的前两位 {code[:2]} 不是有效的省级代码")
    if code[2:4] == "00":
        problems.append(f"区划代码 {code} 的第 3–4 位（地级）不能为 00")
    if level == "city" and code[4:6] != "00":
        problems.append(f"市级区划代码应以 00 结尾，收到 {code}")
    countyless = level in ("township", "village") and code[:4] in NO_COUNTY_PREFECTURES
    if level != "city" and code[4:6] == "00" and not countyless:
        problems.append(f"区划代码 {code} 的第 5–6 位（县级）不能为 00")
    if level in ("township", "village") and code[6:9] == "000":
        problems.append(f"区划代码 {code} 的第 7–9 位（乡级）不能为 000")
    if level == "village" and code[9:12] == "000":
        problems.append(f"区划代码 {code} 的第 10–12 位（村级）不能为 000")
    return problems


def contains(outer_region: str, inner_region: str) -> bool:
    """Whether a division lies inside another: a county holds its townships and villages,
    a city its counties (the city's code ends in 00; its counties share the first 4 digits)."""
    if len(outer_region) == 6 and outer_region.endswith("00"):
        return inner_region.startswith(outer_region[:4])
    return inner_region.startswith(outer_region)


def area_prefix(region: str) -> str:
    """The prefix every division code inside `region` starts with (a city's counties share 4 digits)."""
    return region[:4] if len(region) == 6 and region.endswith("00") else region
