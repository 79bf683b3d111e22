"""provisioning/region.py: levels and the division codes that place a station."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provisioning.region import DIGITS, LEVEL_NAMES, LEVELS, PROVINCES, region_problems

CJK = re.compile(r"[\u4e00-\u9fff]")


def in_chinese(problems: list[str]) -> bool:
    return bool(problems) and all(CJK.search(p) for p in problems)


@pytest.mark.parametrize(
    ("level", "code"),
    [
        ("city", "511300"),
        ("county", "511302"),
        ("township", "511302001"),
        ("village", "511302001001"),
        ("city", "110100"),
        ("county", "110101"),
        ("county", "429004"),
        ("village", "650102100201"),
    ],
)
def test_well_formed_codes_have_no_problems(level, code):
    assert region_problems(level, code) == []


@pytest.mark.parametrize(
    ("level", "code"),
    [
        ("township", "441900003"),  # 东莞市东城街道: Dongguan has no counties, its townships sit under 4419 00
        ("village", "441900003001"),
        ("township", "442000001"),  # 中山市石岐街道
        ("township", "460400100"),  # 儋州市那大镇
    ],
)
def test_townships_and_villages_of_a_prefecture_without_counties_are_well_formed(level, code):
    # In the national statistical division codes, the townships of 东莞, 中山 and 儋州 have 00 as their county part.
    assert region_problems(level, code) == []


def test_every_level_has_a_chinese_name_and_a_code_length():
    assert set(LEVELS) == set(LEVEL_NAMES) == set(DIGITS)
    assert all(CJK.search(name) for name in LEVEL_NAMES.values())


@pytest.mark.parametrize("level", ["province", "Village", "", "town"])
def test_an_unknown_level_is_refused_in_chinese(level):
    problems = region_problems(level, "511302")
    assert len(problems) == 1
    assert problems[0].startswith("未知的层级")
    assert repr(level) in problems[0]


@pytest.mark.parametrize("code", ["51130a", "５１１３００", "5113 0", "", "-51130", "511300\n", "٥١١٣٠٠"])
def test_a_code_with_anything_but_ascii_digits_is_refused_in_chinese(code):
    problems = region_problems("city", code)
    assert len(problems) == 1
    assert "只能由数字组成" in problems[0]


@pytest.mark.parametrize(
    ("level", "code"),
    [
        ("city", "51130"),
        ("city", "5113000"),
        ("county", "511302001"),
        ("township", "511302"),
        ("township", "511302001001"),
        ("village", "511302001"),
        ("village", "5113020010010"),
    ],
)
def test_a_code_of_the_wrong_length_for_its_level_is_refused_in_chinese(level, code):
    problems = region_problems(level, code)
    assert len(problems) == 1
    assert f"应为 {DIGITS[level]} 位数字，收到 {len(code)} 位" in problems[0]
    assert LEVEL_NAMES[level] in problems[0]


@pytest.mark.parametrize(
    "prefix", ["00", "10", "16", "20", "24", "30", "39", "47", "49", "55", "60", "66", "70", "80", "83", "99"]
)
def test_a_code_outside_every_province_is_refused_in_chinese(prefix):
    problems = region_problems("county", f"{prefix}1302")
    assert problems == [f"区划代码 {prefix}1302 的前两位 {prefix} 不是有效的省级代码"]


@pytest.mark.parametrize("level", LEVELS)
def test_a_zero_prefecture_part_is_refused_in_chinese(level):
    code = "510000" if level == "city" else "510002001001"[: DIGITS[level]]
    assert region_problems(level, code) == [f"区划代码 {code} 的第 3–4 位（地级）不能为 00"]


def test_a_city_code_must_end_in_00():
    assert region_problems("city", "511302") == ["市级区划代码应以 00 结尾，收到 511302"]


@pytest.mark.parametrize(
    ("level", "code"), [("county", "511300"), ("township", "511300001"), ("village", "511300001001")]
)
def test_below_the_city_a_zero_county_part_is_refused_in_chinese(level, code):
    assert region_problems(level, code) == [f"区划代码 {code} 的第 5–6 位（县级）不能为 00"]


@pytest.mark.parametrize(("level", "code"), [("township", "511302000"), ("village", "511302000001")])
def test_a_zero_township_part_is_refused_in_chinese(level, code):
    assert region_problems(level, code) == [f"区划代码 {code} 的第 7–9 位（乡级）不能为 000"]


def test_a_zero_village_part_is_refused_in_chinese():
    assert region_problems("village", "511302001000") == ["区划代码 511302001000 的第 10–12 位（村级）不能为 000"]


def test_every_problem_of_a_code_is_reported_at_once():
    problems = region_problems("village", "990000000000")
    assert len(problems) == 5
    assert in_chinese(problems)
    for part in ("前两位", "3–4 位", "5–6 位", "7–9 位", "10–12 位"):
        assert any(part in p for p in problems), part


def test_a_city_code_can_have_two_problems_at_once():
    assert len(region_problems("city", "990001")) == 3


@settings(deadline=None)
@given(
    province=st.sampled_from(sorted(PROVINCES)),
    prefecture=st.integers(1, 99),
    county=st.integers(1, 99),
    township=st.integers(1, 999),
    village=st.integers(1, 999),
)
def test_any_code_with_nonzero_parts_under_a_real_province_is_well_formed(
    province, prefecture, county, township, village
):
    county_code = f"{province:02d}{prefecture:02d}{county:02d}"
    assert region_problems("city", f"{province:02d}{prefecture:02d}00") == []
    assert region_problems("county", county_code) == []
    assert region_problems("township", f"{county_code}{township:03d}") == []
    assert region_problems("village", f"{county_code}{township:03d}{village:03d}") == []


@settings(deadline=None)
@given(level=st.sampled_from(LEVELS), code=st.text(max_size=14))
def test_problems_are_always_a_list_of_chinese_sentences(level, code):
    problems = region_problems(level, code)
    assert isinstance(problems, list)
    assert all(isinstance(p, str) and CJK.search(p) for p in problems)
