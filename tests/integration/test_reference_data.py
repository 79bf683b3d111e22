"""Reference data from above (the catalogue, the holiday table), special procedures that stop the clock,
and the job that marks deadlines due soon or overdue."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil

import pytest

from harness.clock import FrozenClock
from harness.tree import open_node, provision_county
from node.cases.intake import Applicant, file_for_resident, transition
from node.cases.marks import deadline_counts
from node.cases.queries import search
from node.cases.visibility import Viewer
from node.catalogue.data import read_seed_holidays, sample_catalogue
from node.catalogue.model import Catalogue
from node.catalogue.published import CATALOGUE, HOLIDAYS, PublicationRefused, Reference, publish
from node.cli.demo import enrol_by_bundle
from node.config import NodeConfig
from node.fleet import admin as fleet
from node.rules.deadlines import add_working_days
from node.rules.holidays import build_table
from node.runtime import initialise
from provisioning.region import CHINA
from storage.database import db
from storage.models import Application, DeadlineMark, EventRecord

DAY_MS = 86_400_000
RESIDENT = Applicant("张秀英", "11010519491231002X", "13800138000", "四川省南充市顺庆区搬罾街道青山村3组12号")


def beijing_ms(day: dt.date, hour: int = 10) -> int:
    return int(dt.datetime(day.year, day.month, day.day, hour, tzinfo=CHINA).timestamp() * 1000)


def next_monday(after: int = 7) -> dt.date:
    """A day ahead of every event the provisioned nodes already hold (their clocks never run backwards)."""
    day = dt.datetime.now(CHINA).date() + dt.timedelta(days=after)
    return day + dt.timedelta(days=-day.weekday() % 7)


def working_item(catalogue: Catalogue):
    return next(
        i
        for i in catalogue.current()
        if i.proxy_allowed and i.promised_limit.unit == "working" and i.promised_limit.days >= 5
    )


SMALL = Catalogue.build([working_item(sample_catalogue())])  # what the county publishes: one item


def publish_at(config: NodeConfig, kind: str, document) -> None:
    node = open_node(config)
    with node.events.transaction():
        publish(node.events, node.identity, kind, document)
    node.events.sign_heads()


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """The city publishes the seed holiday table, the county a one-item catalogue; then a village enrols."""
    base = tmp_path_factory.mktemp("reference")
    tree = provision_county(base)
    publish_at(tree.city, HOLIDAYS, read_seed_holidays())
    carry_all_stream(tree.city, tree.county)
    done = fleet.register(
        open_node(tree.county), name="青山村", level="village", region="511302001001", hub_url="http://x.invalid"
    )
    publish_at(tree.county, CATALOGUE, SMALL)
    db.close()
    village = NodeConfig(base / "village")
    initialise(
        village, level="village", name="青山村便民服务代办点", region="511302001001", algorithm="ecdsa-p256-sha256"
    )
    enrol_by_bundle(tree.county, village, done.code, "http://x.invalid")
    return {"city": tree.city, "county": tree.county, "village": village}


@pytest.fixture
def nodes(template, tmp_path):
    db.close()
    copies = {}
    for name, config in template.items():
        shutil.copytree(config.data_dir, tmp_path / name)
        copies[name] = NodeConfig(tmp_path / name)
    yield copies
    db.close()


def carry_all_stream(source: NodeConfig, target: NodeConfig, clock=None):
    """Bring a hub's `all` stream to a node below it by hand (sync is issue 5); return the target node."""
    hub = open_node(source)
    hub.events.sign_heads()
    head = hub.events.latest_head(hub.identity.installation, "all")
    batch = hub.events.events_of(hub.identity.installation, "all", 0, head.seq)
    node = open_node(target, clock)
    node.events.ingest(batch, head)
    return node


def file_and_accept(config: NodeConfig, on: dt.date):
    """An application filed and accepted at the county on `on`; the county's clock, the county, the number."""
    clock = FrozenClock(beijing_ms(on))
    node = open_node(config, clock)
    (number,) = file_for_resident(
        node,
        node.reference.catalogue(),
        item_code=working_item(sample_catalogue()).code,
        applicant=RESIDENT,
        consent=True,
        operator="clerk",
        request_token=hashlib.md5(str(on).encode()).hexdigest(),
        now=node.now(),
    )
    transition(node.events, number, "application.accepted", {"by": "clerk"})
    return clock, node, number


def test_a_village_goes_by_its_countys_catalogue_and_its_citys_holiday_table(nodes):
    county = open_node(nodes["county"]).identity.station
    city = open_node(nodes["city"]).identity.station
    village = open_node(nodes["village"])
    assert village.reference.source(CATALOGUE).publisher == county
    assert village.reference.source(HOLIDAYS).publisher == city
    assert [i.code for i in village.reference.catalogue().current()] == [i.code for i in SMALL.current()]
    assert Reference("511303001001").catalogue() is sample_catalogue()  # another county's: kept, not used


def test_only_a_hub_publishes_and_a_rollback_or_a_lost_item_version_is_refused_writing_nothing(nodes):
    village = open_node(nodes["village"])
    before = EventRecord.select().count()
    with pytest.raises(PublicationRefused, match="只有县级、市级"):
        publish(village.events, village.identity, CATALOGUE, SMALL)
    assert EventRecord.select().count() == before

    city = open_node(nodes["city"])
    before = EventRecord.select().count()
    with pytest.raises(PublicationRefused, match="不能回退"):
        publish(city.events, city.identity, HOLIDAYS, read_seed_holidays())
    assert EventRecord.select().count() == before

    county = open_node(nodes["county"])
    before = EventRecord.select().count()
    other = next(i for i in sample_catalogue().current() if i.code != SMALL.current()[0].code)
    with pytest.raises(PublicationRefused, match="删除或改动了已有办件所依据的事项版本"):
        publish(county.events, county.identity, CATALOGUE, Catalogue.build([other]))
    assert EventRecord.select().count() == before
    with county.events.transaction():
        assert publish(county.events, county.identity, CATALOGUE, Catalogue.build([*SMALL.current(), other])) == 2
    assert len(county.reference.catalogue().current()) == 2


def test_a_new_holiday_table_from_the_city_recounts_a_provisional_deadline_into_2027(nodes):
    today = dt.datetime.now(CHINA).date()  # 28 December 2026 when run in 2026 (the case)
    accepted = dt.date(today.year if today < dt.date(today.year, 12, 21) else today.year + 1, 12, 28)
    clock, county, number = file_and_accept(nodes["county"], accepted)
    row = Application.get_by_id(number)
    next_year = accepted.year + 1
    assert row.due.year == next_year and row.due_provisional  # no table for that year yet: weekdays stand in

    seed = read_seed_holidays()
    new_year = {dt.date(next_year, 1, 1), dt.date(next_year, 1, 2), dt.date(next_year, 1, 3)}
    years = seed.years | {accepted.year, next_year}
    table = build_table(seed.days_off | new_year, seed.workdays, years, seed.version + 1)
    publish_at(nodes["city"], HOLIDAYS, table)
    carry_all_stream(nodes["city"], nodes["county"], clock)

    row = Application.get_by_id(number)
    limit = working_item(sample_catalogue()).promised_limit.days
    assert (row.due, row.due_provisional) == (add_working_days(accepted, limit, table).due, False)
    assert row.due > add_working_days(accepted, limit, seed).due  # 1 January now counts as a day off


def test_a_special_procedure_stops_the_clock_for_the_days_it_takes(nodes):
    accepted = next_monday()
    clock, county, number = file_and_accept(nodes["county"], accepted)
    before = Application.get_by_id(number).due
    clock.advance(2 * DAY_MS)  # Wednesday: an appraisal starts
    with pytest.raises(Exception, match="须选择特别程序"):
        transition(county.events, number, "application.suspended", {"by": "clerk"})
    transition(county.events, number, "application.suspended", {"by": "clerk", "procedure": "appraisal"})
    assert Application.get_by_id(number).state == "suspended"
    clock.advance(7 * DAY_MS)  # the next Wednesday: Wednesday to Tuesday did not count, 5 working days
    transition(county.events, number, "application.resumed", {"by": "clerk"})
    row = Application.get_by_id(number)
    assert row.state == "in_review" and row.paused_since is None
    holidays = county.reference.holidays()
    pause = (accepted + dt.timedelta(days=2), accepted + dt.timedelta(days=8))
    assert (
        row.due
        == add_working_days(
            accepted, working_item(sample_catalogue()).promised_limit.days, holidays, pauses=[pause]
        ).due
    )
    assert row.due > before


def test_the_scheduler_job_marks_due_soon_then_overdue_and_forgets_a_decided_application(nodes):
    accepted = next_monday()
    clock, county, number = file_and_accept(nodes["county"], accepted)
    due = Application.get_by_id(number).due
    assert county.mark_deadlines() == {"due_soon": 0, "overdue": 0}
    clock.set_ms(beijing_ms(due - dt.timedelta(days=1)))
    assert county.mark_deadlines() == {"due_soon": 1, "overdue": 0}
    clock.set_ms(beijing_ms(due + dt.timedelta(days=1)))
    assert county.mark_deadlines() == {"due_soon": 0, "overdue": 1}
    mark = DeadlineMark.get_by_id(number)
    assert (mark.status, mark.since) == ("overdue", due + dt.timedelta(days=1))
    clerk = Viewer("511302", "clerk", county.identity.station)
    listed = search("", clerk, county.keys.lookup, per_page=30, due="overdue")
    assert [row.number for row in listed.rows] == [number] and deadline_counts(clerk) == {"due_soon": 0, "overdue": 1}
    transition(county.events, number, "application.decided", {"by": "clerk", "approved": True})
    assert deadline_counts(clerk)["overdue"] == 0  # decided: no longer listed, before the job even runs
    county.mark_deadlines()
    assert DeadlineMark.select().count() == 0
