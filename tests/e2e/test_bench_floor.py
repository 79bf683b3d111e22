"""W4's floor at a tiny size, so that it cannot rot: the real round, the round deciding nothing and the floor
measured on one state, the floor's station part writing each decision the hub answered."""

import sqlite3

from bench import floor
from bench import sync as bench_sync


def test_the_w4_floor_writes_each_decision_the_hub_answered_and_times_the_real_round_beside_it(tmp_path, monkeypatch):
    monkeypatch.setattr(floor, "APPLICATIONS", 6)
    monkeypatch.setattr(floor, "DECIDED", 4)
    monkeypatch.setattr(bench_sync, "DECIDED", 4)
    monkeypatch.setattr(floor, "RUNS", 1)
    figures = floor.run(tmp_path)
    assert all(len(values) == 1 and values[0] > 0 for values in figures.values())

    def count(path, sql):
        with sqlite3.connect(path / floor.DATABASE) as database:
            return database.execute(sql).fetchone()[0]

    accepted = "SELECT COUNT(*) FROM event WHERE type = 'application.accepted'"
    assert count(tmp_path / "state" / "village", accepted) == 0  # not pulled yet
    assert count(tmp_path / "floor0", accepted) == 4  # the floor wrote what the hub answered
    assert count(tmp_path / "real0" / "village", accepted) == 4  # the real round pulled and applied them
    assert count(tmp_path / "floor0", "SELECT COUNT(*) FROM application WHERE state = 'accepted'") == 4
    # the round deciding nothing kept what it pulled, and projected none of it
    assert count(tmp_path / "undecided0" / "village", accepted) == 4
    assert count(tmp_path / "undecided0" / "village", "SELECT COUNT(*) FROM application WHERE state = 'accepted'") == 0
    assert count(tmp_path / "real0" / "village", "SELECT COUNT(*) FROM application WHERE state = 'accepted'") == 4
