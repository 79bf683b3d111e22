"""Every transition of an application, legal and illegal, and who may make it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.rules.workflow import (
    ACCEPTED,
    APPROVED,
    CORRECTIONS,
    DELIVERED,
    DENIED,
    DRAFT,
    IN_REVIEW,
    NOT_ACCEPTED,
    RATED,
    ROLE_ACTIONS,
    SUBMITTED,
    SUSPENDED,
    TRANSITIONS,
    WITHDRAWN,
    IllegalTransition,
    Outcome,
    is_closed,
    next_state,
    possible_actions,
    replay,
    role_may,
)
from provisioning.authority import AUTHORITY, allows

YES, NO = Outcome(True), Outcome(False, "材料不符合法定条件")


@pytest.mark.parametrize(
    "state, event_type, outcome, expected",
    [
        (None, "application.drafted", None, DRAFT),
        (None, "application.filed", None, SUBMITTED),
        (DRAFT, "application.filed", None, SUBMITTED),
        (SUBMITTED, "application.accepted", None, ACCEPTED),
        (SUBMITTED, "application.corrections_requested", None, CORRECTIONS),
        (CORRECTIONS, "application.corrected", None, SUBMITTED),
        (SUBMITTED, "application.not_accepted", None, NOT_ACCEPTED),
        (ACCEPTED, "application.review_started", None, IN_REVIEW),
        (ACCEPTED, "application.decided", YES, APPROVED),
        (IN_REVIEW, "application.decided", YES, APPROVED),
        (IN_REVIEW, "application.decided", NO, DENIED),
        (APPROVED, "application.delivered", None, DELIVERED),
        (DENIED, "application.delivered", None, DELIVERED),
        (DELIVERED, "application.rated", None, RATED),
        (DRAFT, "application.withdrawn", None, WITHDRAWN),
        (SUBMITTED, "application.withdrawn", None, WITHDRAWN),
        (CORRECTIONS, "application.withdrawn", None, WITHDRAWN),
        (ACCEPTED, "application.withdrawn", None, WITHDRAWN),
        (IN_REVIEW, "application.withdrawn", None, WITHDRAWN),
        (SUSPENDED, "application.withdrawn", None, WITHDRAWN),
        (SUSPENDED, "application.resumed", None, IN_REVIEW),
    ],
)
def test_every_legal_transition_leads_where_it_should(state, event_type, outcome, expected):
    assert next_state(state, event_type, outcome) == expected


@pytest.mark.parametrize("state", [ACCEPTED, IN_REVIEW])
def test_a_special_procedure_stops_the_clock_and_must_be_named(state):
    assert next_state(state, "application.suspended", procedure="hearing") == SUSPENDED
    with pytest.raises(IllegalTransition, match="听证"):
        next_state(state, "application.suspended")


@pytest.mark.parametrize("state", [SUBMITTED, SUSPENDED, APPROVED])
def test_no_special_procedure_outside_review_and_no_decision_while_one_runs(state):
    with pytest.raises(IllegalTransition):
        next_state(state, "application.suspended", procedure="hearing")
    with pytest.raises(IllegalTransition):
        next_state(SUSPENDED, "application.decided", YES)


@pytest.mark.parametrize(
    "state, event_type, words",
    [
        (APPROVED, "application.withdrawn", "办件办结（准予），不能撤回"),
        (DENIED, "application.withdrawn", "不能撤回"),
        (SUBMITTED, "application.decided", "不能作出决定"),
        (None, "application.accepted", "尚未建立"),
        (NOT_ACCEPTED, "application.accepted", "不能受理"),
        (WITHDRAWN, "application.delivered", "不能送达"),
        (SUBMITTED, "application.rated", "此时可以：受理、要求补正、不予受理、撤回"),
    ],
)
def test_an_illegal_transition_is_refused_saying_what_may_be_done_instead(state, event_type, words):
    with pytest.raises(IllegalTransition) as refused:
        next_state(state, event_type, YES)
    assert words in str(refused.value)


def test_a_decision_needs_an_outcome_and_a_denial_needs_a_reason():
    with pytest.raises(IllegalTransition):
        next_state(IN_REVIEW, "application.decided", None)
    with pytest.raises(IllegalTransition) as refused:
        next_state(IN_REVIEW, "application.decided", Outcome(False, "  "))
    assert "理由" in str(refused.value)


def test_a_station_files_withdraws_and_delivers_but_only_the_deciding_level_decides():
    station = AUTHORITY["village"]
    for event_type in (
        "application.drafted",
        "application.filed",
        "application.corrected",
        "application.withdrawn",
        "application.delivered",
        "application.rated",
    ):
        assert allows(station, event_type), event_type
    for event_type in (
        "application.accepted",
        "application.corrections_requested",
        "application.not_accepted",
        "application.review_started",
        "application.decided",
    ):
        assert not allows(station, event_type), event_type
        assert allows(AUTHORITY["township"], event_type), event_type


def test_a_full_life_replays_to_rated_and_is_closed():
    steps = [
        ("application.filed", None),
        ("application.corrections_requested", None),
        ("application.corrected", None),
        ("application.accepted", None),
        ("application.review_started", None),
        ("application.decided", YES),
        ("application.delivered", None),
        ("application.rated", None),
    ]
    assert replay(steps) == RATED and is_closed(RATED)
    assert not is_closed(IN_REVIEW)


@given(st.lists(st.tuples(st.sampled_from(sorted(TRANSITIONS)), st.sampled_from([YES, NO])), max_size=12))
def test_any_sequence_either_reaches_a_known_state_or_is_refused_with_a_message(steps):
    try:
        state = replay(steps)
    except IllegalTransition as refused:
        assert str(refused)
    else:
        assert state is None or state in {s for targets in TRANSITIONS.values() for s in targets.values()} | {DENIED}


DECISIONS = sorted(set(TRANSITIONS) | {"application.conflict_settled"})


@given(
    st.sampled_from(DECISIONS),
    st.sampled_from(["township", "county", None]),
    st.sampled_from(["village", "township", "county", "city", ""]),
)
def test_a_deciding_step_needs_a_signer_at_or_above_the_items_deciding_level(event_type, item_level, signer):
    from node.rules.workflow import level_problem
    from provisioning.authority import DECIDING
    from provisioning.region import LEVELS

    problem = level_problem(event_type, item_level, signer)
    below = signer not in LEVELS or (item_level is not None and LEVELS.index(signer) < LEVELS.index(item_level))
    assert (problem is not None) == (event_type in DECIDING and item_level is not None and below)
    if problem:
        assert {"township": "乡镇", "county": "县级"}[item_level] in problem and problem.isprintable()


def test_each_role_offers_what_its_level_may_sign_from_the_one_list_of_authority():
    """provisioning.authority is the one source: an agent's steps are what a village signs for the resident;
    a clerk's are every deciding step but settling a conflict (its own page) and a hub's re-check of a rule
    (the county's job), and handing the result over."""
    from provisioning.authority import AUTHORITY, DECIDING, FOR_THE_RESIDENT, allows

    agent, clerk = ROLE_ACTIONS["agent"], ROLE_ACTIONS["clerk"]
    assert set(agent) == set(FOR_THE_RESIDENT) and all(allows(AUTHORITY["village"], t) for t in agent)
    assert set(DECIDING) - set(clerk) == {"application.conflict_settled", "application.rule_disputed"}
    assert all(allows(AUTHORITY["township"], t) for t in clerk)
    assert [t for t in clerk if allows(AUTHORITY["village"], t)] == [
        "application.delivered",
        "application.deferred_supplied",  # 容缺 material brought to the window or to the station
    ]
    assert role_may("admin", "application.decided") and not role_may("agent", "application.decided")
    # The resident rates, never staff in their name: no role, not even an admin, is offered it.
    for step in ("application.rated", "application.rating_added"):
        assert not any(role_may(role, step) for role in ("agent", "clerk", "admin"))
        assert not any(
            step in possible_actions("delivered", role, lambda _: True) for role in ("agent", "clerk", "admin")
        )


def test_a_corrections_request_names_each_item_and_a_deadline_in_working_days():
    from node.rules.workflow import corrections_problems

    assert corrections_problems({"items": ["户口簿", "结婚证"], "deadline_days": 15}) == []
    assert corrections_problems({"items": [], "reason": "照片不清晰", "deadline_days": 5}) == []
    assert corrections_problems({"items": [], "deadline_days": 15}) == ["请勾选或写明须补正的材料"]
    assert corrections_problems({"items": ["x" * 101]})[0].startswith("须补正的材料应逐项写明")
    assert corrections_problems({"items": ["户口簿"], "deadline_days": 0}) == ["补正期限应为 1 到 60 个工作日"]
    assert corrections_problems({"items": "户口簿"})  # not a list
