"""The fleet simulator at its tiny size, so that it cannot rot: real hubs on PostgreSQL, simulated stations.

The fleet is provisioned once and kept as a template (`bench/fleet_template.py`), then the run clones it: the
storm and the steady state run on the clone, as every run after a shape's first does."""

import psycopg2
import pytest

from bench import fleet_template
from bench.fleet import SHAPES, prepare, simulate
from bench.fleet_setup import POSTGRES


@pytest.fixture
def template_dir(tmp_path, monkeypatch):
    """A template dir of the test's own (its databases named apart from the bench's), dropped afterwards."""
    monkeypatch.setenv("ONETRIP_FLEET_TEMPLATE_DIR", str(tmp_path))
    monkeypatch.delenv("ONETRIP_FLEET_TEMPLATE", raising=False)
    yield tmp_path
    fleet_template.Template(SHAPES["tiny"]).drop()


def _databases_named(prefix: str) -> set[str]:
    with psycopg2.connect(POSTGRES) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT datname FROM pg_database WHERE starts_with(datname, %s)", (prefix,))
        return {name for (name,) in cursor.fetchall()}


def test_a_tiny_fleet_cloned_from_its_template_loses_and_duplicates_nothing_through_a_storm_and_the_steady_state(
    postgres_url, template_dir, monkeypatch
):
    shape = SHAPES["tiny"]
    made = prepare(shape)  # the first run of the shape: provisioned fresh, kept as the template
    assert made.cloned_from is None and made.saved_s is not None
    template = fleet_template.Template(shape)
    assert _databases_named(template.prefix) == set(template.databases)
    assert {p.stat().st_mode & 0o777 for p in template_dir.rglob("keys/*")} == {0o600}

    result = simulate(shape)
    assert result.made.cloned_from is not None and "cloned from a template" in result.made.describe()
    storm, steady = result.phases
    assert [phase.stats.errors for phase in result.phases] == [[], []]
    assert steady.stats.latencies_s, "every station syncs once in the steady window"
    stations = shape.counties * shape.stations
    assert result.checked.sent == stations * (2 * shape.storm_applications + shape.steady_events)
    assert (result.checked.lost, result.checked.duplicated, result.checked.short) == (0, 0, 0)
    assert storm.city_s is not None and storm.city_s >= storm.seconds
    assert len(storm.stats.pushed_at) == stations * shape.storm_applications  # each filing acknowledged once
    assert storm.dashboard_lag_s is not None and 0 <= storm.dashboard_lag_s <= storm.city_s

    # A change measured against the commit before it, on the same fleet: another code's template, when asked.
    monkeypatch.setattr(fleet_template, "code_hash", lambda: "0" * 64)
    monkeypatch.setenv("ONETRIP_FLEET_TEMPLATE", "any-code")
    assert prepare(shape).cloned_from["code"] == template.code
    monkeypatch.delenv("ONETRIP_FLEET_TEMPLATE")

    # Another code (a migration changed, say): the template is not cloned but provisioned again, the old dropped.
    made = prepare(shape)
    assert made.cloned_from is None and made.saved_s is not None
    assert _databases_named(template.prefix) == set(fleet_template.Template(shape).databases)
    assert not set(template.databases) & _databases_named(template.prefix)
