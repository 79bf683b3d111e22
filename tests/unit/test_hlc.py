"""sync/hlc.py: a clock that never goes backwards and cannot be dragged into the future."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.clock import FrozenClock
from sync.errors import ClockDrift
from sync.hlc import COUNTER_MAX, DEFAULT_MAX_DRIFT_MS, HybridClock, SystemClock, pack, timing_problem, unpack

START = 1_795_000_000_000
HOUR = 3_600_000


def make() -> tuple[FrozenClock, HybridClock]:
    wall = FrozenClock(START)
    return wall, HybridClock(wall)


def test_frozen_clock_stands_still_moves_when_told_and_can_go_back():
    wall = FrozenClock(1000)
    assert wall.now_ms() == wall.now_ms() == 1000
    wall.advance(5)
    assert wall.now_ms() == 1005
    wall.advance(-10)
    assert wall.now_ms() == 995
    wall.set_ms(42)
    assert wall.now_ms() == 42


@given(st.integers(min_value=0, max_value=2**47), st.integers(min_value=0, max_value=COUNTER_MAX))
def test_pack_and_unpack_are_inverse_and_order_by_wall_then_counter(wall_ms, counter):
    stamp = pack(wall_ms, counter)
    assert unpack(stamp) == (wall_ms, counter)
    assert pack(wall_ms + 1, 0) > stamp
    if counter < COUNTER_MAX:
        assert pack(wall_ms, counter + 1) > stamp


def test_first_timestamp_is_the_wall_clock_with_counter_zero():
    _, hlc = make()
    assert unpack(hlc.now()) == (START, 0)


def test_timestamps_in_the_same_millisecond_count_up():
    _, hlc = make()
    stamps = [hlc.now() for _ in range(5)]
    assert [unpack(s) for s in stamps] == [(START, i) for i in range(5)]


def test_timestamps_strictly_increase_when_the_wall_clock_jumps_back_an_hour():
    wall, hlc = make()
    before = [hlc.now() for _ in range(3)]
    wall.advance(-HOUR)
    after = [hlc.now() for _ in range(3)]
    wall.advance(10)  # the clock ticks on, still an hour behind
    later = [hlc.now() for _ in range(3)]
    stamps = before + after + later
    assert all(a < b for a, b in zip(stamps, stamps[1:], strict=False))
    assert all(unpack(s)[0] == START for s in after + later)


def test_counter_overflow_borrows_the_next_millisecond_and_order_holds():
    wall, hlc = make()
    stamps = [hlc.now() for _ in range(COUNTER_MAX + 3)]
    assert wall.now_ms() == START
    assert all(a < b for a, b in zip(stamps, stamps[1:], strict=False))
    assert unpack(stamps[COUNTER_MAX]) == (START, COUNTER_MAX)
    assert unpack(stamps[COUNTER_MAX + 1]) == (START + 1, 0)
    assert unpack(stamps[COUNTER_MAX + 2]) == (START + 1, 1)


def test_counter_overflow_after_the_wall_clock_jumped_back_still_increases():
    wall = FrozenClock(START)
    hlc = HybridClock(wall, last=pack(START + HOUR, COUNTER_MAX))
    assert unpack(hlc.now()) == (START + HOUR + 1, 0)


def test_after_a_forward_jump_timestamps_follow_the_wall_clock():
    wall, hlc = make()
    for _ in range(10):
        hlc.now()
    wall.advance(HOUR)
    assert unpack(hlc.now()) == (START + HOUR, 0)


def test_after_the_wall_clock_catches_up_from_a_backward_jump_timestamps_follow_it_again():
    wall, hlc = make()
    hlc.now()
    wall.advance(-HOUR)
    hlc.now()
    wall.set_ms(START + 1)
    assert unpack(hlc.now()) == (START + 1, 0)
    assert hlc.drift_ms() == 0


def test_clock_starting_from_a_stored_last_stamp_never_issues_an_earlier_one():
    wall = FrozenClock(START)
    stored = pack(START + 500, 7)  # written by this installation before its clock was set back
    hlc = HybridClock(wall, last=stored)
    assert hlc.now() > stored


def test_observe_of_a_remote_stamp_within_drift_moves_past_it():
    wall, hlc = make()
    mine = hlc.now()
    remote = pack(START + 60_000, 9)
    seen = hlc.observe(remote)
    assert seen > remote > mine
    assert hlc.now() > seen
    assert unpack(seen) == (START + 60_000, 10)


def test_observe_of_a_remote_stamp_behind_us_keeps_our_clock_increasing():
    wall, hlc = make()
    mine = [hlc.now() for _ in range(3)]
    seen = hlc.observe(pack(START - HOUR, 0))
    assert seen > mine[-1]
    assert unpack(seen) == (START, 3)


def test_observe_accepts_a_remote_exactly_max_drift_ahead():
    wall, hlc = make()
    remote = pack(START + DEFAULT_MAX_DRIFT_MS, 0)
    assert hlc.observe(remote) > remote


def test_observe_refuses_a_remote_stamp_more_than_max_drift_ahead_and_does_not_move_the_clock():
    wall, hlc = make()
    mine = hlc.now()
    remote = pack(START + DEFAULT_MAX_DRIFT_MS + 1, 0)
    with pytest.raises(ClockDrift) as caught:
        hlc.observe(remote)
    assert caught.value.code == "clock_skew"
    assert caught.value.retryable is True
    assert hlc.last == mine
    assert unpack(hlc.now()) == (START, 1)
    assert hlc.drift_ms() == 0


def test_observe_honours_a_custom_max_drift():
    wall = FrozenClock(START)
    hlc = HybridClock(wall, max_drift_ms=1000)
    hlc.observe(pack(START + 1000, 0))
    with pytest.raises(ClockDrift):
        hlc.observe(pack(START + 1001, 0))


def test_observe_measures_drift_against_the_wall_clock_not_against_our_last_stamp():
    # Our own stamps run an hour ahead (the wall clock was set back): a remote just ahead of them
    # is still more than the drift ahead of the wall, and is refused.
    wall = FrozenClock(START)
    hlc = HybridClock(wall, last=pack(START + HOUR, 0))
    with pytest.raises(ClockDrift):
        hlc.observe(pack(START + HOUR + 1, 0))


def test_drift_ms_is_how_far_timestamps_run_ahead_of_the_wall_clock():
    wall, hlc = make()
    hlc.now()
    assert hlc.drift_ms() == 0
    wall.advance(-HOUR)
    hlc.now()
    assert hlc.drift_ms() == HOUR
    wall.advance(HOUR + 5)
    assert hlc.drift_ms() == 0


def test_drift_ms_is_never_negative_when_the_wall_clock_is_ahead():
    wall, hlc = make()
    hlc.now()
    wall.advance(HOUR)
    assert hlc.drift_ms() == 0


Step = st.one_of(
    st.tuples(st.just("now"), st.just(0)),
    st.tuples(st.just("tick"), st.integers(min_value=0, max_value=2 * HOUR)),
    st.tuples(st.just("observe"), st.integers(min_value=-2 * HOUR, max_value=2 * DEFAULT_MAX_DRIFT_MS)),
)


@settings(deadline=None)
@given(st.lists(Step, max_size=60), st.integers(min_value=0, max_value=COUNTER_MAX))
def test_with_a_wall_clock_that_never_goes_back_drift_stays_within_max_drift(steps, counter):
    wall, hlc = make()
    issued = [hlc.now()]
    for action, amount in steps:
        if action == "tick":
            wall.advance(amount)
        elif action == "now":
            issued.append(hlc.now())
        else:
            try:
                issued.append(hlc.observe(pack(wall.now_ms() + amount, counter)))
            except ClockDrift:
                assert amount > DEFAULT_MAX_DRIFT_MS
            else:
                assert amount <= DEFAULT_MAX_DRIFT_MS
        # A remote exactly at the limit with a full counter makes the next stamp borrow one millisecond.
        assert 0 <= hlc.drift_ms() <= DEFAULT_MAX_DRIFT_MS + 1
    assert all(a < b for a, b in zip(issued, issued[1:], strict=False))


@settings(deadline=None)
@given(st.lists(st.integers(min_value=-2 * HOUR, max_value=2 * HOUR), max_size=60))
def test_timestamps_strictly_increase_whatever_the_wall_clock_does(moves):
    wall, hlc = make()
    stamps = [hlc.now()]
    for move in moves:
        wall.advance(move)
        stamps.append(hlc.now())
        assert unpack(stamps[-1])[0] >= wall.now_ms()
    assert all(a < b for a, b in zip(stamps, stamps[1:], strict=False))


def test_system_clock_reads_milliseconds_since_the_epoch():
    assert 1_700_000_000_000 < SystemClock().now_ms() < 4_000_000_000_000


@given(
    wall=st.integers(0, 2**40),
    valid_from=st.one_of(st.none(), st.integers(0, 2**40)),
    now=st.integers(0, 2**40),
    drift=st.integers(0, 10**9),
)
def test_an_event_time_is_refused_exactly_before_its_certificate_or_beyond_the_drift(wall, valid_from, now, drift):
    problem = timing_problem(pack(wall, 7), valid_from, now, ahead_ms=drift)
    early = valid_from is not None and wall < valid_from
    assert (problem is not None) == (early or wall - now > drift)
    if early:
        assert "早于签发者证书" in problem
    elif problem:
        assert "超前" in problem


def test_a_forgery_dated_1970_says_so_in_beijing_time():
    problem = timing_problem(pack(0, 0), 1_795_000_000_000, 1_795_000_000_000)
    assert problem.startswith("事件时间 1970-01-01 08:00 早于签发者证书的生效时间 2026-")


def test_a_clock_hours_ahead_still_syncs_and_one_days_ahead_is_held():
    assert timing_problem(pack(START + 3 * HOUR, 0), None, START) is None
    assert "超前 176400 秒" in timing_problem(pack(START + 49 * HOUR, 0), None, START)
