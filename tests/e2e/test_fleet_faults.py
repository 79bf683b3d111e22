"""Issue 18's faults at scale, at the tiny size: the fleet's storm taken through a restart and a crash of
PostgreSQL and a SIGKILLed county hub process (`bench/fleet_faults.py`), on a PostgreSQL server the test owns."""

import pytest

from bench.fleet import SHAPES, simulate

pytestmark = pytest.mark.postgres


def test_a_storm_through_a_restart_and_a_crash_of_postgresql_and_a_killed_hub_process_loses_nothing(
    postgres_binaries,
):
    shape = SHAPES["tiny"]
    result = simulate(shape, faults=True)
    (phase,) = result.phases
    *restarts, kill = result.faults
    assert (result.checked.lost, result.checked.duplicated, result.checked.short) == (0, 0, 0)
    earlier = shape.counties * shape.stations * shape.storm_applications  # at the county before the storm
    assert len(phase.stats.pushed_at) == result.checked.sent - earlier  # each filing acknowledged once
    assert [r.busy > 0 for r in restarts] == [True, True]  # stopped fast, then crashed: told busy each time…
    assert result.logged["busy (database away)"] > 0  # …by the hubs, for their database away…
    assert result.logged["500"] == 0 and set(phase.stats.failures) <= {"unreachable"}  # …never a 500
    for restart in restarts:  # each served again with no restart of its own
        assert set(restart.recovered_s) == {"city", "county 1/0", "county 1/1"}
    assert kill.away_s >= 5 and set(kill.recovered_s) == {"county 1/0"}  # started again as systemd would
