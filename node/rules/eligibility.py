"""秒办: an item's conditions of eligibility, published with the catalogue and evaluated at intake, offline.

A condition is a JsonLogic rule over a few facts about the application (`FACTS`) and the reason a resident
is told when it does not hold. The rules are data inside the signed catalogue, so every node evaluates the
same version the county published; jsonlogic-rs evaluates them (no `eval`, no parser of ours). Pure: facts
are made from what the intake form holds, and checked here before any rule is run, so a rule naming a fact
we do not compute, or an operator JsonLogic does not have, is refused when the catalogue is read — not at a
resident's window.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jsonlogic_rs

# What a rule may ask about, with the words a catalogue editor reads.
FACTS = {
    "age": "申请人年龄（周岁，按身份证号出生日期计）",
    "sex": "申请人性别（男 / 女，按身份证号）",
    "region": "申请人户籍地区划代码（身份证号前 6 位）",
    "station_region": "受理站点的区划代码",
    "materials": "已收取的材料代码列表",
    "months_since_same_item": "距同一申请人上次申请本事项的月数（从未申请为 9999）",
}
NEVER = 9999

# The JsonLogic operators a rule may use: the spec's own, less those that only make sense for templating.
OPERATORS = frozenset(
    {
        "var", "missing", "missing_some", "if", "==", "===", "!=", "!==", "!", "!!", "or", "and",
        ">", ">=", "<", "<=", "max", "min", "+", "-", "*", "/", "%", "map", "filter", "reduce",
        "all", "none", "some", "merge", "in", "cat", "substr",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Condition:
    """One condition of eligibility: the rule, and what the resident is told when it does not hold."""

    rule: Mapping[str, Any]
    reason: str


def facts(
    id_number: str,
    today: dt.date,
    *,
    station_region: str,
    materials: Iterable[str] = (),
    last_same_item: dt.date | None = None,
) -> dict[str, Any]:
    """The facts of an intake, from a checked 18-character ID number (its birth date and sex digit)."""
    born = dt.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    months = NEVER
    if last_same_item is not None:
        months = (today.year - last_same_item.year) * 12 + today.month - last_same_item.month
    return {
        "age": age,
        "sex": "男" if int(id_number[16]) % 2 else "女",
        "region": id_number[:6],
        "station_region": station_region,
        "materials": sorted(set(materials)),
        "months_since_same_item": months,
    }


def unmet(conditions: Iterable[Condition], known: Mapping[str, Any]) -> list[str]:
    """The reasons of the conditions that do not hold, in the catalogue's order; none: eligible."""
    return [c.reason for c in conditions if not jsonlogic_rs.apply(dict(c.rule), dict(known))]


def rule_problems(rule: Any) -> list[str]:
    """What is wrong with a rule as a catalogue states it, in Chinese; none for a rule we can run."""
    problems: list[str] = []
    _walk(rule, problems)
    if not problems and not isinstance(rule, dict):
        problems.append('条件应为一条 JsonLogic 规则（一个对象），如 {">=": [{"var": "age"}, 80]}')
    if not problems:
        try:
            jsonlogic_rs.apply(rule, _SAMPLE)
        except (ValueError, TypeError) as exc:  # the library's refusal of a malformed rule
            problems.append(f"条件无法执行：{exc}")
    return problems


def _walk(node: Any, problems: list[str]) -> None:
    if isinstance(node, list):
        for part in node:
            _walk(part, problems)
    elif isinstance(node, dict):
        if len(node) != 1:
            problems.append("JsonLogic 规则的每个对象只能有一个运算符")
            return
        ((operator, arguments),) = node.items()
        if operator not in OPERATORS:
            problems.append(f"不认识的运算符“{operator}”")
            return
        if operator == "var":
            name = arguments[0] if isinstance(arguments, list) and arguments else arguments
            if name not in FACTS and name != "":  # "": the element at hand inside some / all / filter / map
                problems.append(f"条件用到的“{name}”不是可用的事实；可用：{'、'.join(FACTS)}")
            return
        _walk(arguments, problems)


_SAMPLE = facts("110105194912310021", dt.date(2026, 1, 1), station_region="511302001001")
