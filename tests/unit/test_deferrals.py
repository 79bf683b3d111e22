"""容缺受理 as pure rules: the check at acceptance, supplying what was deferred, and a lapsed deferral."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.rules import deferrals
from node.rules.deferrals import DEFERRED, MISSING, Deferral, DeferredItem
from node.rules.workflow import (
    ACCEPTED,
    APPROVED,
    IN_REVIEW,
    LAPSED,
    SUBMITTED,
    IllegalTransition,
    is_closed,
    next_state,
    possible_actions,
)


@dataclass(frozen=True)
class M:
    key: str
    name: str
    deferrable: bool = False


ID_CARD = M("id_card", "申请人居民身份证")
CONTRACT = M("land_contract_certificate", "农村土地承包经营权证", deferrable=True)
BANK = M("subsidy_card", "一卡通存折", deferrable=True)
MATERIALS = (ID_CARD, CONTRACT, BANK)
DAY = dt.date(2025, 3, 3)


def test_everything_received_is_accepted():
    check = {"id_card": "original", "land_contract_certificate": "copy", "subsidy_card": "electronic"}
    assert deferrals.acceptance_problems(MATERIALS, check, None) == []


def test_a_deferrable_material_may_be_deferred_with_a_deadline():
    check = {"id_card": "original", "land_contract_certificate": DEFERRED, "subsidy_card": "copy"}
    assert deferrals.acceptance_problems(MATERIALS, check, 10) == []
    assert [m.key for m in deferrals.deferred(MATERIALS, check)] == ["land_contract_certificate"]


def test_nothing_received_is_accepted_only_if_every_missing_material_is_deferrable_and_deferred():
    only_deferrable = (CONTRACT, BANK)
    assert (
        deferrals.acceptance_problems(
            only_deferrable, dict.fromkeys(["land_contract_certificate", "subsidy_card"], DEFERRED), 10
        )
        == []
    )
    [problem] = deferrals.acceptance_problems(
        MATERIALS, dict.fromkeys(["id_card", "land_contract_certificate", "subsidy_card"], DEFERRED), 10
    )
    assert problem.startswith("申请人居民身份证不是可以容缺的材料")


def test_a_missing_material_is_refused_in_words_naming_what_could_be_deferred():
    check = {"id_card": MISSING, "land_contract_certificate": MISSING, "subsidy_card": "copy"}
    [problem] = deferrals.acceptance_problems(MATERIALS, check, 10)
    assert problem == (
        "申请人居民身份证、农村土地承包经营权证尚未收到，不能受理：请收齐后受理，或要求补正；"
        "其中农村土地承包经营权证可以选“容缺”，由申请人签署容缺承诺书后受理"
    )


def test_an_unchecked_or_unknown_material_and_a_bad_deadline_are_all_said_at_once():
    check = {"id_card": "original", "land_contract_certificate": DEFERRED, "photo": "copy"}
    problems = deferrals.acceptance_problems(MATERIALS, check, 0)
    assert problems == [
        "核对的材料不在本事项的材料清单中：photo",
        "请逐项核对材料（原件、复印件、电子件或容缺）：一卡通存折尚未选择",
        "容缺材料的补齐期限应为 1 到 60 个工作日",
    ]


@given(
    st.dictionaries(st.sampled_from([m.key for m in MATERIALS]), st.sampled_from(sorted(deferrals.CHECKS))),
    st.one_of(st.integers(-5, 80), st.none(), st.booleans(), st.text(max_size=3)),
)
def test_a_check_is_accepted_exactly_when_every_material_is_received_or_a_deferrable_one_deferred(check, days):
    problems = deferrals.acceptance_problems(MATERIALS, check, days)
    allowed = all(
        check.get(m.key) in deferrals.RECEIVED or (check.get(m.key) == DEFERRED and m.deferrable) for m in MATERIALS
    )
    days_ok = type(days) is int and 1 <= days <= 60
    assert (problems == []) == (allowed and (days_ok or DEFERRED not in check.values()))
    assert all(problem and "_" not in problem for problem in problems)  # words, not codes


def deferral(*supplied: dt.date | None) -> Deferral:
    keys = [("a", "甲材料"), ("b", "乙材料")]
    return Deferral(
        DAY + dt.timedelta(days=14), tuple(DeferredItem(k, n, s) for (k, n), s in zip(keys, supplied, strict=True))
    )


def test_supplying_marks_each_item_once_and_completes_on_the_last():
    owed = deferral(None, None)
    one = deferrals.supply(owed, ["a"], DAY)
    assert [i.key for i in one.owed] == ["b"] and one.completed_on is None
    both = deferrals.supply(one, ["a", "b"], DAY + dt.timedelta(days=3))
    assert both.items[0].supplied_on == DAY  # the first day it was brought stays
    assert both.completed_on == DAY + dt.timedelta(days=3) and both.supplied_on_time


def test_supplying_refuses_what_was_not_deferred_or_was_already_brought():
    assert deferrals.supply_problems(None, ["a"]) == ["这个办件没有容缺的材料"]
    assert deferrals.supply_problems(deferral(None, None), []) == ["请勾选已补齐的容缺材料"]
    assert deferrals.supply_problems(deferral(DAY, None), ["a", "x"]) == [
        "x不是这个办件容缺的材料",
        f"甲材料已于 {DAY} 补齐",
    ]


def test_late_supply_warns_until_brought_and_is_not_on_time():
    late = DAY + dt.timedelta(days=20)
    assert deferral(None, None).overdue(late) and not deferral(None, None).overdue(DAY + dt.timedelta(days=14))
    brought = deferral(DAY, late)
    assert not brought.overdue(late) and brought.completed_on == late and not brought.supplied_on_time


def test_a_deferral_lapses_only_past_its_last_day_with_something_owed_and_a_reason():
    due = DAY + dt.timedelta(days=14)
    assert deferrals.lapse_problems(deferral(None, DAY), due + dt.timedelta(days=1), "逾期未补齐") == []
    assert deferrals.lapse_problems(deferral(None, DAY), due, "逾期") == [
        f"容缺材料的补齐期限到 {due} 为止，尚未届满，不能终止办理"
    ]
    assert deferrals.lapse_problems(deferral(DAY, DAY), due + dt.timedelta(days=9), " ") == [
        "容缺的材料已全部补齐，不能以逾期未补齐终止办理",
        "请写明终止办理的理由，它会告知申请人",
    ]


@given(st.lists(st.tuples(st.sampled_from("ab"), st.integers(0, 30)), max_size=6))
def test_a_deferral_survives_its_row_encoding_whatever_was_supplied_when(steps):
    current = deferral(None, None)
    for key, offset in steps:
        current = deferrals.supply(current, [key], DAY + dt.timedelta(days=offset))
    assert deferrals.decode(deferrals.encode(current)) == current
    assert deferrals.decode(None) is None and deferrals.encode(None) is None


def test_an_acceptance_payload_is_read_or_refused_in_words():
    payload = {"deferral": {"items": [{"key": "a", "name": "甲材料"}], "deadline_days": 10, "deadline": "2025-03-17"}}
    assert deferrals.read_deferral(payload) == Deferral(dt.date(2025, 3, 17), (DeferredItem("a", "甲材料"),))
    assert deferrals.read_deferral({}) is None
    for bad in ({"items": [], "deadline": "2025-03-17"}, {"items": [{"key": "a"}], "deadline": "x"}, {"items": "a"}):
        with pytest.raises(ValueError):
            deferrals.read_deferral({"deferral": bad})


def test_supplying_keeps_the_state_and_a_lapse_closes_the_case():
    for state in (ACCEPTED, IN_REVIEW, APPROVED):
        assert next_state(state, "application.deferred_supplied") == state
    assert next_state(IN_REVIEW, "application.deferral_lapsed") == LAPSED and is_closed(LAPSED)
    with pytest.raises(IllegalTransition):
        next_state(APPROVED, "application.deferral_lapsed")  # after a decision it would be a revocation
    with pytest.raises(IllegalTransition):
        next_state(SUBMITTED, "application.deferred_supplied")
    with pytest.raises(IllegalTransition):
        next_state(LAPSED, "application.withdrawn")  # ended: nothing more happens to it


def test_the_agent_records_supply_and_the_clerk_both_supplies_and_ends():
    assert "application.deferred_supplied" in possible_actions(ACCEPTED, "agent", lambda t: True)
    clerk = possible_actions(ACCEPTED, "clerk", lambda t: True)
    assert {"application.deferred_supplied", "application.deferral_lapsed"} <= set(clerk)
    assert "application.deferral_lapsed" not in possible_actions(ACCEPTED, "agent", lambda t: True)


def test_the_acceptance_sms_says_what_is_owed_and_by_when():
    from node.rules.notices import notices_for

    deferral = {"items": [{"key": "a", "name": "结婚证"}], "deadline_days": 10, "deadline": "2026-12-18"}
    [notice] = notices_for(
        "application.accepted",
        {"deferral": deferral},
        eid="e",
        number="N1",
        name="张秀英",
        service="出生登记",
        signature="顺庆区",
    )
    assert notice.text.endswith("已受理。容缺材料结婚证请于12月18日前补齐，逾期可能终止办理。")
    [plain] = notices_for(
        "application.accepted", {}, eid="e", number="N1", name="张秀英", service="出生登记", signature="顺庆区"
    )
    assert plain.text.endswith("已受理。")
