"""node/rules/eligibility.py: the facts of an intake, the conditions an item publishes, and which rules are
refused when a catalogue is read."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.catalogue.data import sample_catalogue
from node.catalogue.importing import CatalogueError, load_json
from node.catalogue.model import to_json
from node.rules.eligibility import NEVER, Condition, facts, rule_problems, unmet
from node.rules.identifiers import id_check_character

ALLOWANCE = "11511302MB10040469-0004"  # 八十周岁以上老年人高龄津贴申领: 秒办 in the sample


def id_number(region: str, born: dt.date, sex_digit: int = 1) -> str:
    body = f"{region}{born:%Y%m%d}00{sex_digit}"
    return body + id_check_character(body)


@given(
    born=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2025, 12, 31)),
    today=st.dates(min_value=dt.date(2026, 1, 1), max_value=dt.date(2030, 12, 31)),
)
def test_age_is_whole_years_from_the_birth_date_in_the_id_number(born, today):
    age = facts(id_number("511302", born), today, station_region="511302001001")["age"]
    birthday_passed = (today.month, today.day) >= (born.month, born.day)
    assert age == today.year - born.year - (0 if birthday_passed else 1)


def test_sex_region_and_months_since_the_last_application():
    known = facts(
        id_number("511302", dt.date(1940, 5, 1), sex_digit=2),
        dt.date(2026, 12, 4),
        station_region="511302001001",
        last_same_item=dt.date(2026, 2, 28),
    )
    assert known["sex"] == "女" and known["region"] == "511302" and known["months_since_same_item"] == 10
    assert facts(id_number("511302", dt.date(1940, 5, 1)), dt.date(2026, 1, 1), station_region="x")["sex"] == "男"
    assert (
        facts(id_number("511302", dt.date(1940, 5, 1)), dt.date(2026, 1, 1), station_region="x")[
            "months_since_same_item"
        ]
        == NEVER
    )


def test_the_allowance_refuses_a_71_year_old_and_names_why_and_approves_an_85_year_old():
    item = sample_catalogue().item(ALLOWANCE)
    young = facts(id_number("511302", dt.date(1955, 3, 1)), dt.date(2026, 12, 4), station_region="511302001001")
    assert unmet(item.eligibility, young) == [item.eligibility[0].reason] and "80" in item.eligibility[0].reason
    old = facts(id_number("511302", dt.date(1941, 3, 1)), dt.date(2026, 12, 4), station_region="511302001001")
    assert unmet(item.eligibility, old) == [] and item.authorised("511302001001-01", "rule")
    elsewhere = facts(id_number("110105", dt.date(1941, 3, 1)), dt.date(2026, 12, 4), station_region="511302001001")
    assert len(unmet(item.eligibility, elsewhere)) == 1  # 户籍不在本市
    again = facts(
        id_number("511302", dt.date(1941, 3, 1)),
        dt.date(2026, 12, 4),
        station_region="511302001001",
        last_same_item=dt.date(2026, 6, 1),
    )
    assert unmet(item.eligibility, again) == [item.eligibility[2].reason]


def test_only_delegated_stations_decide_an_on_the_spot_item_themselves():
    item = sample_catalogue().item("11511302MB1007079B-0003")  # 生育登记, 即办
    assert item.authorised("511302001001-01", "delegation") and not item.authorised("511302001002-01", "delegation")
    assert not item.authorised("511302001001-01", "rule")  # no published conditions: no 秒办


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ({">=": [{"var": "income"}, 80]}, "不是可用的事实"),
        ({"eval": ["1+1"]}, "不认识的运算符"),
        ({">=": [{"var": "age"}, 80], "<": [1, 2]}, "只能有一个运算符"),
        ([1, 2], "一条 JsonLogic 规则"),
    ],
)
def test_a_rule_we_could_not_run_is_refused_in_words(rule, words):
    assert any(words in problem for problem in rule_problems(rule))


def test_a_catalogue_with_a_bad_rule_or_a_rule_less_auto_approval_is_refused_when_read():
    doc = json.loads(to_json(sample_catalogue()))
    allowance = next(i for i in doc["items"] if i["code"] == ALLOWANCE)
    allowance["eligibility"][0]["rule"] = {">=": [{"var": "wealth"}, 80]}
    with pytest.raises(CatalogueError, match="wealth"):
        load_json(json.dumps(doc))
    allowance["eligibility"] = []
    with pytest.raises(CatalogueError, match="秒办的事项须写明办理条件"):
        load_json(json.dumps(doc))


def test_conditions_in_the_element_at_hand_are_allowed():
    rule = {"some": [{"var": "materials"}, {"==": [{"var": ""}, "id_card"]}]}
    assert rule_problems(rule) == []
    known = {"materials": ["id_card"]}
    assert unmet([Condition(rule, "须出示身份证")], known) == []
    assert unmet([Condition(rule, "须出示身份证")], {"materials": []}) == ["须出示身份证"]
