"""The life of an application (办件) as a state machine: which event may follow which, and who may make it.

Pure: a state and an event type in, the next state out, or a refusal in plain Chinese.
The application's state is the replay of its events in causal order (`sync.order`);
an event that is illegal from the state its replay reaches is refused here, and the
projection turns that into a quarantine (remote events) or an error (local ones).

    draft ─filed→ submitted ─accepted→ accepted ─review_started→ in_review ─decided→ approved | denied
                      │  └─not_accepted→ not_accepted (closed)                                  │
                      └─corrections_requested→ corrections_requested ─corrected→ submitted      │
    approved | denied ─delivered→ delivered ─rated→ rated                                    (办结)
    accepted | in_review ─suspended→ suspended ─resumed→ in_review   (听证、检验、鉴定: the clock stops)
    withdrawn: from any state before a decision
    accepted with 容缺 (node.rules.deferrals): deferred_supplied records what is brought, the state unchanged;
    accepted | in_review | suspended ─deferral_lapsed→ deferral_lapsed (closed: owed past its last day)
"""

from __future__ import annotations

from dataclasses import dataclass

from node.errors import DomainError
from provisioning.authority import BY_THE_RESIDENT, DECIDING, FOR_THE_RESIDENT
from provisioning.region import DECIDING_LEVELS, LEVEL_NAMES, LEVELS

DRAFT, SUBMITTED, ACCEPTED, CORRECTIONS, NOT_ACCEPTED = (
    "draft",
    "submitted",
    "accepted",
    "corrections_requested",
    "not_accepted",
)
IN_REVIEW, SUSPENDED, APPROVED, DENIED, DELIVERED, RATED, WITHDRAWN = (
    "in_review",
    "suspended",
    "approved",
    "denied",
    "delivered",
    "rated",
    "withdrawn",
)
LAPSED = "deferral_lapsed"

STATE_NAMES = {
    DRAFT: "草稿",
    SUBMITTED: "已提交",
    ACCEPTED: "已受理",
    CORRECTIONS: "待补正",
    NOT_ACCEPTED: "不予受理",
    IN_REVIEW: "审查中",
    SUSPENDED: "特别程序中",
    APPROVED: "办结（准予）",
    DENIED: "办结（不予许可）",
    DELIVERED: "已送达",
    RATED: "已评价",
    WITHDRAWN: "已撤回",
    LAPSED: "容缺逾期终止",
}

BEFORE_DECISION = frozenset({DRAFT, SUBMITTED, ACCEPTED, CORRECTIONS, IN_REVIEW, SUSPENDED})

# 特别程序: their time does not count towards the limit (行政许可法 第四十五条).
PROCEDURES = {"hearing": "听证", "inspection": "检验检测", "appraisal": "鉴定", "expert_review": "专家评审"}
DECIDED = frozenset({APPROVED, DENIED, DELIVERED, RATED})  # a decision was made: its notice can be printed

# 即办 by the county's delegation, 秒办 by the published rule: a station approves on the catalogue's authority,
# receipt to decision in one step. `basis` names which; every node checks it against its catalogue.
ON_AUTHORITY = "application.decided_on_authority"
BASES = {"delegation": "县级授权当场办结", "rule": "符合已发布的秒办规则，自动办结"}

# event type -> {state it may follow: state it leads to}; "decided" depends on the outcome.
TRANSITIONS: dict[str, dict[str | None, str]] = {
    "application.drafted": {None: DRAFT},
    "application.filed": {None: SUBMITTED, DRAFT: SUBMITTED},
    "application.corrected": {CORRECTIONS: SUBMITTED},
    "application.accepted": {SUBMITTED: ACCEPTED},
    "application.corrections_requested": {SUBMITTED: CORRECTIONS},
    "application.not_accepted": {SUBMITTED: NOT_ACCEPTED},
    "application.review_started": {ACCEPTED: IN_REVIEW},
    "application.suspended": {ACCEPTED: SUSPENDED, IN_REVIEW: SUSPENDED},
    "application.resumed": {SUSPENDED: IN_REVIEW},
    "application.decided": {ACCEPTED: APPROVED, IN_REVIEW: APPROVED},
    ON_AUTHORITY: {SUBMITTED: APPROVED},
    "application.delivered": {APPROVED: DELIVERED, DENIED: DELIVERED},
    "application.rated": {DELIVERED: RATED},
    "application.withdrawn": dict.fromkeys(BEFORE_DECISION, WITHDRAWN),
    # 容缺: what was deferred may be brought while the case runs and until its result is handed over
    "application.deferred_supplied": {s: s for s in (ACCEPTED, IN_REVIEW, SUSPENDED, APPROVED, DENIED)},
    "application.deferral_lapsed": dict.fromkeys((ACCEPTED, IN_REVIEW, SUSPENDED), LAPSED),
}

EVENT_NAMES = {
    "application.drafted": "保存草稿",
    "application.filed": "提交",
    "application.corrected": "补正后重新提交",
    "application.accepted": "受理",
    "application.corrections_requested": "要求补正",
    "application.not_accepted": "不予受理",
    "application.review_started": "开始审查",
    "application.suspended": "启动特别程序（暂停计时）",
    "application.resumed": "特别程序结束（恢复计时）",
    "application.decided": "作出决定",
    ON_AUTHORITY: "按授权办结",
    "application.delivered": "送达",
    "application.rated": "评价",
    "application.withdrawn": "撤回",
    "application.deferred_supplied": "补齐容缺材料",
    "application.deferral_lapsed": "容缺逾期终止办理",
}


class IllegalTransition(DomainError):
    code = "illegal_transition"


@dataclass(frozen=True)
class Outcome:
    """The result of a decision: approved or denied, with the reason the applicant is told."""

    approved: bool
    reason: str = ""


def next_state(state: str | None, event_type: str, outcome: Outcome | None = None, procedure: str = "") -> str:
    """The state after `event_type`, or IllegalTransition naming what may be done instead."""
    allowed = TRANSITIONS.get(event_type)
    if allowed is None:
        raise IllegalTransition(f"未知的办件操作 {event_type}")
    if state not in allowed:
        here = STATE_NAMES.get(state, "尚未建立") if state else "尚未建立"
        steps = [t for t in TRANSITIONS if state in TRANSITIONS[t] and t != ON_AUTHORITY]  # that one: no choice
        possible = "、".join(EVENT_NAMES[t] for t in steps) or "无"
        raise IllegalTransition(f"办件{here}，不能{EVENT_NAMES[event_type]}；此时可以：{possible}")
    if event_type == "application.decided":
        if outcome is None:
            raise IllegalTransition("作出决定须写明准予或不予许可")
        if not outcome.approved and not outcome.reason.strip():
            raise IllegalTransition("不予许可须写明理由")
        return APPROVED if outcome.approved else DENIED
    if event_type == "application.suspended" and procedure not in PROCEDURES:
        raise IllegalTransition("暂停计时须选择特别程序：" + "、".join(PROCEDURES.values()))
    return allowed[state]


def level_problem(event_type: str, item_level: str | None, signer_level: str) -> str | None:
    """Why a signer may not take a deciding step on an application, in Chinese; None if it may.

    The catalogue names who decides each item version (决定层级); a township's certificate may sign
    acceptances and decisions, but only on the items given to townships. Anyone at or above the item's
    level may (a county decides a township's item when it must). An item version this node's catalogues
    lack (`None`) cannot be checked here; the publishing hub, which holds it, does."""
    if event_type not in DECIDING or item_level not in DECIDING_LEVELS:
        return None
    if signer_level in LEVELS and LEVELS.index(signer_level) >= LEVELS.index(item_level):
        return None
    who = LEVEL_NAMES.get(signer_level, "未知层级的站点")
    step = EVENT_NAMES.get(event_type, "处理冲突")
    return f"此事项由{DECIDING_LEVELS[item_level]}决定，{who}不能{step}；请转{DECIDING_LEVELS[item_level]}办理"


def replay(steps: list[tuple[str, Outcome | None]]) -> str | None:
    """The state after a sequence of (event type, outcome) in causal order; raises on the first illegal step."""
    state: str | None = None
    for event_type, outcome in steps:
        state = next_state(state, event_type, outcome)
    return state


def is_closed(state: str | None) -> bool:
    """办结 or ended otherwise: no deadline runs any more."""
    return state in DECIDED | {NOT_ACCEPTED, WITHDRAWN, LAPSED}


# What each role does from an application's page, taken from the levels' authority (one list each): an
# agent what a station does for the resident (the resident rates on their own, `node.cases.ratings`); a
# clerk the deciding steps (a conflict is settled on its own page) and handing the result over.
# Trust enforces the level's authority on top.
# Deciding-level events nobody takes as a step on the page: a conflict's note, a hub's re-check of a rule.
NOT_A_STEP = ("application.conflict_settled", "application.rule_disputed")
ROLE_ACTIONS = {
    "agent": FOR_THE_RESIDENT,
    "clerk": tuple(t for t in DECIDING if t not in NOT_A_STEP)
    + ("application.delivered", "application.deferred_supplied"),
}


def possible_actions(state: str | None, role: str, may_sign) -> list[str]:
    """The steps a person in `role` can take now: legal from `state` and signable here (`may_sign(type)`)."""
    offered = ROLE_ACTIONS.get(role) or ROLE_ACTIONS["clerk"] + ROLE_ACTIONS["agent"]
    return [t for t in dict.fromkeys(offered) if state in TRANSITIONS[t] and may_sign(t)]


def role_may(role: str, event_type: str) -> bool:
    """Whether a person in `role` may take this step at all (admins may take any but the resident's own:
    staff never rate in the resident's name)."""
    if event_type in BY_THE_RESIDENT:
        return False
    return role == "admin" or event_type in ROLE_ACTIONS.get(role, ())


# A 补正 request names exactly what is missing and by when (行政许可法 第三十二条: 一次告知需要补正的全部内容).
CORRECTION_DAYS = (1, 60)  # working days a resident may be given; 15 unless the clerk says otherwise
MAX_CORRECTION_ITEMS = 30


def corrections_problems(payload: dict) -> list[str]:
    """What is wrong with a 补正 request's payload, in words: no item, too many or too long, a bad deadline."""
    items, days = payload.get("items", []), payload.get("deadline_days", 15)
    problems = []
    if not isinstance(items, list) or not all(isinstance(i, str) and 0 < len(i.strip()) <= 100 for i in items):
        problems.append("须补正的材料应逐项写明，每项不超过 100 字")
    elif not items and not str(payload.get("reason", "")).strip():
        problems.append("请勾选或写明须补正的材料")
    elif len(items) > MAX_CORRECTION_ITEMS:
        problems.append(f"一次最多告知 {MAX_CORRECTION_ITEMS} 项须补正的材料")
    if not isinstance(days, int) or isinstance(days, bool) or not CORRECTION_DAYS[0] <= days <= CORRECTION_DAYS[1]:
        problems.append(f"补正期限应为 {CORRECTION_DAYS[0]} 到 {CORRECTION_DAYS[1]} 个工作日")
    return problems
