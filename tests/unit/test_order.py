"""sync/order.py: deps first, the hybrid logical clock only to break ties."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sync.event import Event, make_event
from sync.order import causal_order, frontier

ENTITY = "app/511302001001-0001"
MISSING = "f" * 64


def event(seq: int, hlc: int, deps=(), origin: str = "i-1") -> Event:
    return make_event(
        origin=origin, stream="s", seq=seq, hlc=hlc, type="t", entity=ENTITY, payload={"n": seq}, deps=deps
    )


def eids(events) -> list[str]:
    return [e.eid for e in events]


def test_no_events_give_an_empty_order_and_an_empty_frontier():
    assert causal_order([]) == []
    assert frontier([]) == []


def test_a_dep_comes_first_even_when_its_clock_is_later():
    parent = event(1, hlc=900)
    child = event(2, hlc=100, deps=[parent.eid])  # the child's PC clock was an hour behind
    assert eids(causal_order([child, parent])) == [parent.eid, child.eid]
    assert eids(causal_order([parent, child])) == [parent.eid, child.eid]


def test_concurrent_events_are_ordered_by_hlc():
    early, late = event(1, hlc=5), event(2, hlc=7)
    assert eids(causal_order([late, early])) == [early.eid, late.eid]


def test_concurrent_events_with_equal_hlc_are_ordered_by_eid():
    first, second = sorted([event(1, hlc=5), event(2, hlc=5, origin="i-2")], key=lambda e: e.eid)
    assert eids(causal_order([second, first])) == [first.eid, second.eid]
    assert eids(causal_order([first, second])) == [first.eid, second.eid]


def test_an_event_with_a_low_clock_goes_as_soon_as_its_deps_are_done():
    root = event(1, hlc=10)
    after_root = event(2, hlc=11, deps=[root.eid])
    concurrent = event(3, hlc=12)
    late_child = event(4, hlc=1, deps=[after_root.eid])
    ordered = eids(causal_order([late_child, concurrent, after_root, root]))
    assert ordered == [root.eid, after_root.eid, late_child.eid, concurrent.eid]


def test_a_missing_dep_does_not_hold_an_event_back():
    orphan = event(2, hlc=3, deps=[MISSING])
    other = event(1, hlc=9)
    assert eids(causal_order([other, orphan])) == [orphan.eid, other.eid]


def test_an_event_waits_only_for_the_deps_that_are_held():
    parent = event(1, hlc=50)
    child = event(2, hlc=1, deps=[parent.eid, MISSING])
    assert eids(causal_order([child, parent])) == [parent.eid, child.eid]


def test_a_merge_waits_for_both_branches():
    root = event(1, hlc=1)
    left, right = event(2, hlc=2, deps=[root.eid]), event(3, hlc=30, deps=[root.eid])
    merge = event(4, hlc=3, deps=[left.eid, right.eid])
    ordered = eids(causal_order([merge, right, left, root]))
    assert ordered == [root.eid, left.eid, right.eid, merge.eid]


def test_the_same_event_given_twice_appears_once():
    one = event(1, hlc=1)
    assert eids(causal_order([one, one])) == [one.eid]


def test_frontier_names_the_events_nothing_depends_on_sorted():
    root = event(1, hlc=1)
    left, right = event(2, hlc=2, deps=[root.eid]), event(3, hlc=3, deps=[root.eid])
    assert frontier([root, left, right]) == sorted([left.eid, right.eid])
    merge = event(4, hlc=4, deps=[left.eid, right.eid])
    assert frontier([right, merge, root, left]) == [merge.eid]


def test_frontier_ignores_deps_that_are_not_among_the_events():
    orphan = event(1, hlc=1, deps=[MISSING])
    assert frontier([orphan]) == [orphan.eid]


def test_frontier_accepts_any_iterable_once():
    root = event(1, hlc=1)
    child = event(2, hlc=2, deps=[root.eid])
    assert frontier(e for e in [root, child]) == [child.eid]


@st.composite
def entity_histories(draw) -> list[Event]:
    """A random DAG of one entity's events: each names some earlier events (or a missing one) as deps."""
    count = draw(st.integers(min_value=0, max_value=14))
    events: list[Event] = []
    for i in range(count):
        deps = [events[j].eid for j in draw(st.sets(st.integers(0, i - 1), max_size=3))] if i else []
        if draw(st.integers(0, 9)) == 0:
            deps.append(MISSING)
        hlc = draw(st.integers(min_value=0, max_value=6))  # few values, so ties are common
        events.append(event(i + 1, hlc=hlc, deps=deps, origin=draw(st.sampled_from(["i-1", "i-2"]))))
    return events


def reference_order(events: list[Event]) -> list[Event]:
    """The obvious quadratic definition: repeatedly take the lowest (hlc, eid) event whose held deps are taken."""
    held = {e.eid for e in events}
    remaining = {e.eid: e for e in events}
    taken: set[str] = set()
    ordered = []
    while remaining:
        ready = [e for e in remaining.values() if all(d in taken or d not in held for d in e.deps)]
        chosen = min(ready, key=lambda e: (e.hlc, e.eid))
        ordered.append(chosen)
        taken.add(chosen.eid)
        del remaining[chosen.eid]
    return ordered


@settings(deadline=None)
@given(entity_histories(), st.randoms(use_true_random=False))
def test_causal_order_is_the_same_whatever_order_events_arrive_in(events, random):
    shuffled = list(events)
    random.shuffle(shuffled)
    assert eids(causal_order(shuffled)) == eids(causal_order(events))


@settings(deadline=None)
@given(entity_histories(), st.randoms(use_true_random=False))
def test_causal_order_puts_every_held_dep_before_its_dependent(events, random):
    random.shuffle(events)
    ordered = causal_order(events)
    assert sorted(eids(ordered)) == sorted(eids(events))
    position = {e.eid: i for i, e in enumerate(ordered)}
    for e in ordered:
        for dep in e.deps:
            if dep in position:
                assert position[dep] < position[e.eid]


@settings(deadline=None)
@given(entity_histories(), st.randoms(use_true_random=False))
def test_causal_order_breaks_ties_by_lowest_hlc_then_eid_among_ready_events(events, random):
    random.shuffle(events)
    assert eids(causal_order(events)) == eids(reference_order(events))


@settings(deadline=None)
@given(entity_histories(), st.randoms(use_true_random=False))
def test_frontier_is_what_a_new_event_must_name_whatever_the_order(events, random):
    covered = {d for e in events for d in e.deps}
    expected = sorted(e.eid for e in events if e.eid not in covered)
    random.shuffle(events)
    assert frontier(events) == expected
    if events:
        assert frontier(events)
        # An event naming the frontier as its deps becomes the only tip.
        tip = event(99, hlc=0, deps=frontier(events))
        assert frontier([*events, tip]) == [tip.eid]
        assert causal_order([tip, *events])[-1].eid == tip.eid
