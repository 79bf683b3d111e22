"""The fleet simulator at its tiny size, so that it cannot rot: real hubs on PostgreSQL, simulated stations."""

from bench.fleet import SHAPES, simulate


def test_a_tiny_fleet_loses_and_duplicates_nothing_through_a_storm_and_the_steady_state(postgres_url):
    shape = SHAPES["tiny"]
    result = simulate(shape)
    storm, steady = result.phases
    assert [phase.stats.errors for phase in result.phases] == [[], []]
    assert steady.stats.latencies_s, "every station syncs once in the steady window"
    stations = shape.counties * shape.stations
    assert result.checked.sent == stations * (2 * shape.storm_applications + shape.steady_events)
    assert (result.checked.lost, result.checked.duplicated, result.checked.short) == (0, 0, 0)
    assert storm.city_s is not None and storm.city_s >= storm.seconds
    assert len(storm.stats.pushed_at) == stations * shape.storm_applications  # each filing acknowledged once
    assert storm.dashboard_lag_s is not None and 0 <= storm.dashboard_lag_s <= storm.city_s
