"""Lockouts under parallel guessing, on real threads and a real SQLite file: a burst of wrong passwords or seal
PINs has at most five of its attempts checked, and an unknown username answers like a known one."""

from __future__ import annotations

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness.seals import PIN, SEAL_ID
from harness.web import login
from provisioning.operators import LOCKED_OUT, MAX_FAILURES, REFUSED, UNKNOWN_KEPT, LoginRefused, authenticate
from provisioning.seal_keys import SealKeyRefused, unlock_seal_key
from storage.database import write_transaction
from storage.models import Credential, Operator
from web import create_app

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


def _in_parallel(count: int, attempt) -> list[str]:
    """`count` attempts at once, each on its own thread; the answer of each."""
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: attempt(), range(count)))


def _login_answer(app, username: str, password: str) -> str:
    return login(app.test_client(), username, password).get_data(as_text=True)


def test_forty_parallel_wrong_passwords_have_at_most_five_checked_and_then_the_right_one_is_refused(
    county_node, record_property
):
    app = create_app(node=county_node)
    answers = _in_parallel(40, lambda: _login_answer(app, "li", "wrong-guess-1"))
    checked = sum(REFUSED in answer for answer in answers)
    record_property("checked_of_40", checked)
    assert 1 <= checked <= MAX_FAILURES, f"{checked} of 40 parallel wrong passwords were checked"
    assert sum("已锁定" in answer for answer in answers) == 40 - checked
    assert "已锁定" in _login_answer(app, "li", "agent-pass-1")


def test_an_unknown_username_costs_the_same_time_and_locks_the_same_way(county_node):
    def timed(username: str) -> float:
        started = time.perf_counter()
        with pytest.raises(LoginRefused, match=REFUSED):
            authenticate(username, "wrong-guess-1", NOW)
        return time.perf_counter() - started

    # Alternated, so that a burst of load from the rest of the suite falls on both, not on one name's three tries.
    pairs = [(timed("li"), timed("nobody.here")) for _ in range(3)]
    known, unknown = min(k for k, _ in pairs), min(u for _, u in pairs)
    assert unknown > known / 2, f"unknown name answered in {unknown * 1000:.1f} ms, a known one in {known * 1000:.1f}"
    for username in ("li", "nobody.here"):  # three tries each so far: two more reach the limit
        for _ in range(MAX_FAILURES - 3):
            with pytest.raises(LoginRefused, match=REFUSED):
                authenticate(username, "wrong-guess-1", NOW)
    for username in ("li", "nobody.here"):
        with pytest.raises(LoginRefused) as refused:
            authenticate(username, "wrong-guess-1", NOW)
        assert str(refused.value) == LOCKED_OUT


def test_unknown_usernames_keep_a_bounded_number_of_counters(county_node):
    with write_transaction():
        Credential.insert_many([{"username": f"ghost{i}", "password_hash": ""} for i in range(UNKNOWN_KEPT)]).execute()
    with pytest.raises(LoginRefused, match=REFUSED):
        authenticate("one.more", "wrong-guess-1", NOW)
    assert Credential.select().where(Credential.password_hash == "").count() <= UNKNOWN_KEPT


def test_a_disabled_account_gets_the_same_vague_refusal_even_with_its_right_password(county_node):
    Operator.update(disabled=True, disabled_by="wang").where(Operator.username == "li").execute()
    with pytest.raises(LoginRefused) as refused:
        authenticate("li", "agent-pass-1", NOW)
    assert str(refused.value) == REFUSED


def test_thirty_parallel_wrong_pins_lock_the_seal(seal_tree, record_property):
    village = seal_tree.open("village")

    def attempt() -> str:
        try:
            unlock_seal_key(village.config.data_dir, SEAL_ID, "000000", NOW)
        except SealKeyRefused as exc:
            return str(exc)
        return "opened"

    answers = _in_parallel(30, attempt)
    checked = sum("口令不正确" in answer for answer in answers)
    record_property("checked_of_30", checked)
    assert 1 <= checked <= 5, f"{checked} of 30 parallel wrong PINs were checked"
    with pytest.raises(SealKeyRefused, match="已锁定"):
        unlock_seal_key(village.config.data_dir, SEAL_ID, PIN, NOW + dt.timedelta(minutes=1))


@pytest.mark.parametrize("username", ["x" * 65, "li\x00", ""])
def test_a_name_no_account_can_have_is_refused_like_any_other_and_leaves_no_row(county_node, username):
    with pytest.raises(LoginRefused) as refused:
        authenticate(username, "wrong-guess-1", NOW)
    assert str(refused.value) == REFUSED
    assert Credential.get_or_none(Credential.username == username) is None


def test_an_unknown_name_locks_after_five_tries_on_both_engines(migrated):
    for _ in range(MAX_FAILURES):
        with pytest.raises(LoginRefused, match=REFUSED):
            authenticate("nobody.here", "wrong-guess-1", NOW)
    with pytest.raises(LoginRefused, match="已锁定"):
        authenticate("nobody.here", "wrong-guess-1", NOW)
    with pytest.raises(LoginRefused) as refused:  # the lock runs out: a new run of five
        authenticate("nobody.here", "wrong-guess-1", NOW + dt.timedelta(minutes=16))
    assert str(refused.value) == REFUSED


def test_an_opened_seal_stays_open_for_its_pin_only_and_closes_on_a_new_pin_or_after_its_session(
    seal_tree, monkeypatch
):
    """The PIN session: within minutes of a right PIN the key opens without scrypt, for that PIN alone; a wrong
    PIN still goes through scrypt and counts; a new PIN closes the session (the old one opens nothing), and
    so does time."""
    from provisioning import seal_keys

    village = seal_tree.open("village")
    data_dir = village.config.data_dir
    derived = []
    real = seal_keys._derive
    monkeypatch.setattr(seal_keys, "_derive", lambda pin, kdf: derived.append(pin) or real(pin, kdf))

    first = unlock_seal_key(data_dir, SEAL_ID, PIN, NOW)
    again = unlock_seal_key(data_dir, SEAL_ID, PIN, NOW + dt.timedelta(minutes=5))
    assert derived == [PIN] and again.private_numbers() == first.private_numbers()
    with pytest.raises(SealKeyRefused, match="口令不正确（再错 4 次将锁定）"):
        unlock_seal_key(data_dir, SEAL_ID, "999999", NOW + dt.timedelta(minutes=6))
    assert derived == [PIN, "999999"]
    unlock_seal_key(data_dir, SEAL_ID, PIN, NOW + dt.timedelta(minutes=20))  # ten minutes after the last use
    assert derived == [PIN, "999999", PIN]

    seal_keys.change_pin(data_dir, SEAL_ID, PIN, "135792", NOW + dt.timedelta(minutes=21))
    with pytest.raises(SealKeyRefused, match="口令不正确"):
        unlock_seal_key(data_dir, SEAL_ID, PIN, NOW + dt.timedelta(minutes=22))
    unlock_seal_key(data_dir, SEAL_ID, "135792", NOW + dt.timedelta(minutes=23))
