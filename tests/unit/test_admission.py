"""A busy hub's Retry-After is an appointment: refusals book places in a virtual queue that advances at the rate
the hub serves, so a storm's refused stations come back spread out instead of all at once."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.errors import Busy
from web import admission as admission_module
from web.admission import FIRST_SERVICE_S, RETRY_MAX_S, RETRY_MIN_S, Admission, sync_waiting


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_refusals_at_one_instant_are_given_places_a_slot_apart():
    clock = Clock()
    admission = Admission(2, clock)
    waits = [admission.appointment() for _ in range(100)]
    # Two slots of FIRST_SERVICE_S each: a place every FIRST_SERVICE_S / 2 s, in whole seconds, at least one.
    assert waits[0] == RETRY_MIN_S
    assert waits == sorted(waits)
    assert waits[-1] == pytest.approx(100 * FIRST_SERVICE_S / 2, abs=1)


def test_places_follow_how_long_the_hub_takes_to_serve():
    clock = Clock()
    admission = Admission(1, clock)
    for _ in range(60):  # requests that take 2 s each
        with admission.slot():
            clock.now += 2.0
    assert [admission.appointment() for _ in range(3)] == [2, 4, 6]


def test_a_queue_whose_places_have_passed_starts_again_from_now():
    clock = Clock()
    admission = Admission(1, clock)
    for _ in range(50):
        admission.appointment()
    clock.now += 3600
    assert admission.appointment() == RETRY_MIN_S


def test_a_request_finding_every_slot_taken_is_refused_with_its_appointment_and_served_once_one_frees():
    clock = Clock()
    admission = Admission(1, clock)
    with admission.slot():
        with pytest.raises(Busy) as refused:
            with admission.slot():
                pass
        assert refused.value.details == {"retry_after_s": RETRY_MIN_S}
    with admission.slot():  # the slot is free again
        pass


@given(st.lists(st.tuples(st.floats(0, 30), st.booleans()), max_size=200), st.integers(1, 8))
def test_an_appointment_is_always_whole_seconds_within_bounds(steps, slots):
    clock = Clock()
    admission = Admission(slots, clock)
    for seconds, serve in steps:
        if serve:
            with admission.slot():
                clock.now += seconds
        else:
            clock.now += seconds / 10
            wait = admission.appointment()
            assert isinstance(wait, int) and RETRY_MIN_S <= wait <= RETRY_MAX_S


def test_a_request_finding_the_slots_taken_waits_in_the_room_while_it_has_a_place():
    """One slot, one place to wait: the second request is served when the first ends, the third is refused
    at once with its appointment, and the first's end lets the second in."""
    admission = Admission(1, waiting=1)
    first_in, waiting, second_done, outcomes = threading.Event(), threading.Event(), threading.Event(), []

    def second() -> None:
        waiting.set()
        with admission.slot():
            outcomes.append("served")
        second_done.set()

    with admission.slot():
        first_in.set()
        waiter = threading.Thread(target=second)
        waiter.start()
        waiting.wait()
        while admission._waiters == 0:  # the second has taken the waiting room's place
            threading.Event().wait(0.001)
        with pytest.raises(Busy) as refused:
            with admission.slot():
                pass
        assert refused.value.details["retry_after_s"] >= RETRY_MIN_S
    assert second_done.wait(5) and outcomes == ["served"]
    waiter.join()


def test_a_waiter_whose_slot_does_not_free_in_time_is_refused(monkeypatch):
    monkeypatch.setattr(admission_module, "SLOT_WAIT_MAX_S", 0.05)
    admission = Admission(1, waiting=3)
    with admission.slot():
        with pytest.raises(Busy):
            with admission.slot():
                pass
    assert admission._waiters == 0  # its place is given back


def test_the_waiting_room_is_the_threads_beside_the_slots_but_the_one_kept_free():
    assert sync_waiting(4, 8) == 3 and sync_waiting(3, 6) == 2
    assert sync_waiting(4, 4) == 0 and sync_waiting(4, 1) == 0
