"""Issue 18's faults at scale, at the tiny size: the fleet's storm taken through a restart of PostgreSQL and a
SIGKILLed county hub process (`bench/fleet_faults.py`), on a PostgreSQL server the test owns and restarts."""

import pytest

from bench.fleet import SHAPES, simulate

pytestmark = pytest.mark.postgres


def test_a_storm_through_a_database_restart_and_a_killed_hub_process_is_told_busy_and_loses_nothing(
    postgres_binaries,
):
    shape = SHAPES["tiny"]
    result = simulate(shape, faults=True)
    (phase,) = result.phases
    restart, kill = result.faults
    assert (result.checked.lost, result.checked.duplicated, result.checked.short) == (0, 0, 0)
    earlier = shape.counties * shape.stations * shape.storm_applications  # at the county before the storm
    assert len(phase.stats.pushed_at) == result.checked.sent - earlier  # each filing acknowledged once
    assert restart.busy > 0 and result.logged["busy (database away)"] > 0  # 503 while the database was away…
    assert result.logged["500"] == 0 and set(phase.stats.failures) <= {"unreachable"}  # …never a 500
    assert set(restart.recovered_s) == {"city", "county 1/0", "county 1/1"}  # each served again with no restart
    assert kill.away_s >= 5 and set(kill.recovered_s) == {"county 1/0"}  # started again as systemd would
