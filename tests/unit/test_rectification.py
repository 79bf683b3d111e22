"""差评整改's pure rules: which grades open a case, the steps in their order, and a case that closes only with
the 回访 (or after the last 回访 that could not reach the resident)."""

from __future__ import annotations

import datetime as dt

import pytest

from node.rules.ratings import GRADES
from node.rules.rectification import (
    CLOSED,
    OPENED,
    RECTIFIED,
    RECTIFYING,
    REPORTED,
    REPORTING,
    REVISIT_TRIES,
    REVISITED,
    REVISITING,
    VERIFIED,
    VERIFYING,
    department_of,
    is_overdue,
    next_state,
    opens_case,
    step_problems,
)

NOTE = {"note": "已核实"}


def test_only_the_two_low_grades_open_a_case():
    assert [g for g in GRADES if opens_case(g)] == ["dissatisfied", "very_dissatisfied"]
    assert not opens_case(None)


def test_a_case_goes_verify_rectify_report_then_closes_only_with_a_revisit_that_reaches_the_resident():
    state = next_state(None, OPENED, {})
    assert state == VERIFYING
    state = next_state(state, VERIFIED, {**NOTE, "finding": "founded"})
    assert state == RECTIFYING
    state = next_state(state, RECTIFIED, NOTE)
    assert state == REPORTING
    state = next_state(state, REPORTED, NOTE)
    assert state == REVISITING
    assert next_state(state, REVISITED, {**NOTE, "reached": False}, tries=0) == REVISITING
    assert next_state(state, REVISITED, {**NOTE, "reached": True, "satisfied": False}, tries=1) == CLOSED


def test_the_last_revisit_that_cannot_reach_the_resident_closes_the_case():
    unreached = {**NOTE, "reached": False}
    assert next_state(REVISITING, REVISITED, unreached, tries=REVISIT_TRIES - 2) == REVISITING
    assert next_state(REVISITING, REVISITED, unreached, tries=REVISIT_TRIES - 1) == CLOSED


@pytest.mark.parametrize(
    ("state", "step"),
    [
        (VERIFYING, RECTIFIED),
        (VERIFYING, REVISITED),
        (RECTIFYING, REPORTED),
        (REPORTING, REVISITED),
        (CLOSED, REVISITED),
    ],
)
def test_a_step_out_of_order_is_refused_in_words_naming_the_next(state, step):
    problems = step_problems(state, step, {**NOTE, "finding": "founded", "reached": True, "satisfied": True})
    assert problems and "下一步应为" in problems[0]
    with pytest.raises(ValueError):
        next_state(state, step, {**NOTE, "reached": True, "satisfied": True})


def test_a_case_is_opened_once():
    with pytest.raises(ValueError, match="不再重复立案"):
        next_state(VERIFYING, OPENED, {})


def test_every_step_asks_for_what_was_done_and_the_verification_for_its_finding():
    assert step_problems(VERIFYING, VERIFIED, {"note": " "}) == [
        "请写明核实情况",
        "请选择核实结论：属实、部分属实、不属实",
    ]
    assert step_problems(RECTIFYING, RECTIFIED, {"note": "字" * 501}) == ["整改情况不能超过 500 个字"]
    assert step_problems(REVISITING, REVISITED, NOTE) == ["请选择是否联系上群众"]
    assert step_problems(REVISITING, REVISITED, {**NOTE, "reached": True}) == ["联系上群众时请选择群众对整改是否满意"]
    assert step_problems(REVISITING, REVISITED, {**NOTE, "reached": False}) == []


def test_overdue_means_open_after_the_last_day():
    due = dt.date(2026, 12, 1)
    assert not is_overdue(due, due, VERIFYING)
    assert is_overdue(due, due + dt.timedelta(days=1), REVISITING)
    assert not is_overdue(due, due + dt.timedelta(days=30), CLOSED)


def test_the_department_is_the_credit_code_before_the_serial():
    assert department_of("11511300MB1234567X-0001") == "11511300MB1234567X"
