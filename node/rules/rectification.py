"""差评整改: what a 差评 opens at the county and the steps that close it.

Pure. A 不满意 or 非常不满意 (node.rules.ratings.LOW_GRADES) opens one case per application, assigned to the
item's department, due some working days after it was opened. It is verified (核实), rectified (整改),
reported (报告), then the resident is called back (回访); only a 回访 that reaches the resident closes it,
or the third that does not (a resident who cannot be reached is not a case left open for ever).

    opened → verifying ─verified→ rectifying ─rectified→ reporting ─reported→ revisiting ─revisited→ closed
                                                                                   └─ not reached (<3) ─┘
"""

from __future__ import annotations

import datetime as dt

from node.rules.ratings import LOW_GRADES

OPENED, VERIFIED, RECTIFIED, REPORTED, REVISITED = (
    "rectification.opened",
    "rectification.verified",
    "rectification.rectified",
    "rectification.reported",
    "rectification.revisited",
)
VERIFYING, RECTIFYING, REPORTING, REVISITING, CLOSED = "verifying", "rectifying", "reporting", "revisiting", "closed"
STATE_NAMES = {
    VERIFYING: "待核实",
    RECTIFYING: "待整改",
    REPORTING: "待报告",
    REVISITING: "待回访",
    CLOSED: "已办结",
}
# event type -> (the state it may follow, the state it leads to); 回访 is judged by `after_revisit`.
STEPS = {
    VERIFIED: (VERIFYING, RECTIFYING),
    RECTIFIED: (RECTIFYING, REPORTING),
    REPORTED: (REPORTING, REVISITING),
    REVISITED: (REVISITING, None),
}
STEP_NAMES = {OPENED: "差评转整改", VERIFIED: "核实", RECTIFIED: "整改", REPORTED: "报告", REVISITED: "回访"}
STEP_OF_STATE = {VERIFYING: VERIFIED, RECTIFYING: RECTIFIED, REPORTING: REPORTED, REVISITING: REVISITED}

# What the verification found: whether the resident's complaint stands.
FINDINGS = {"founded": "属实", "partly": "部分属实", "unfounded": "不属实"}
DEADLINE_DAYS = 15  # working days from opening to closing, 回访 included
REVISIT_TRIES = 3  # a 回访 that does not reach the resident this many times closes the case as unreachable
NOTE_LIMIT = 500


def opens_case(grade: str | None) -> bool:
    """Whether a rating's grade opens a rectification case: a 差评, 不满意 or 非常不满意."""
    return grade in LOW_GRADES


def department_of(item_code: str) -> str:
    """The department's code in an item's code (its unified social credit code, before the serial)."""
    return item_code.partition("-")[0]


def step_problems(state: str, step: str, payload: dict) -> list[str]:
    """What is wrong with taking `step` (an event type) now, with these fields, in Chinese; empty if it may."""
    if step not in STEPS:
        return [f"不认识的整改步骤：{step}"]
    before, _ = STEPS[step]
    if state != before:
        expected = STEP_NAMES[STEP_OF_STATE[state]] if state in STEP_OF_STATE else "无（已办结）"
        return [f"此案件当前{STATE_NAMES.get(state, state)}，下一步应为：{expected}"]
    problems = []
    note = payload.get("note")
    if not isinstance(note, str) or not note.strip():
        problems.append(f"请写明{STEP_NAMES[step]}情况")
    elif len(note) > NOTE_LIMIT:
        problems.append(f"{STEP_NAMES[step]}情况不能超过 {NOTE_LIMIT} 个字")
    if step == VERIFIED and payload.get("finding") not in FINDINGS:
        problems.append("请选择核实结论：" + "、".join(FINDINGS.values()))
    if step == REVISITED:
        if not isinstance(payload.get("reached"), bool):
            problems.append("请选择是否联系上群众")
        elif payload["reached"] and not isinstance(payload.get("satisfied"), bool):
            problems.append("联系上群众时请选择群众对整改是否满意")
    return problems


def after_revisit(reached: bool, tries: int) -> str:
    """Where a case stands after a 回访 (the `tries`-th, counting this one): closed once the resident was
    reached, or after the last try that was not; otherwise still waiting for a 回访."""
    return CLOSED if reached or tries >= REVISIT_TRIES else REVISITING


def next_state(state: str | None, step: str, payload: dict, tries: int = 0) -> str:
    """The state `step` leads to from `state` (`tries`: the 回访 already recorded); ValueError if it cannot."""
    if step == OPENED:
        if state is not None:
            raise ValueError("此办件的差评已转为整改案件，不再重复立案")
        return VERIFYING
    if problems := step_problems(state or "", step, payload):
        raise ValueError("；".join(problems))
    _, after = STEPS[step]
    return after if after is not None else after_revisit(payload["reached"], tries + 1)


def is_overdue(due: dt.date, today: dt.date, state: str) -> bool:
    """A case still open after its last day."""
    return state != CLOSED and today > due
