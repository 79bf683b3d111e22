"""Retention at a village station: residents' data of cases delivered long ago is purged (data key, sealed
fields, lookups, scans); the facts and the statistics stay; recent and open cases are untouched; hubs keep
everything, and `scheduler = "off"` keeps a process from running any periodic job."""

from __future__ import annotations

import dataclasses
import datetime as dt
from types import SimpleNamespace

import pytest

from harness.cases import STATION, a_case, case_log
from node.cases.retention import PURGED, purge_personal_data
from node.link.scans import inventory
from storage.blobs import BlobStore
from storage.models import Application, Attachment, DataKey, Statistic

DELIVERED_ON = dt.date(2026, 11, 23)


@pytest.fixture
def village(migrated, make_log, tmp_path):
    """Two delivered cases with a stored scan and a kept data key each."""
    log, village, county = case_log(make_log)
    blobs = BlobStore(tmp_path / "blobs")
    numbers = [f"{STATION}-20261118-AAAA0000{i}" for i in (1, 2)]
    digests = [blobs.put(f"encrypted scan {i}".encode()) for i in (1, 2)]
    for number, digest in zip(numbers, digests, strict=True):
        a_case(village, county, number, blob=digest)
    village.send(log, len(village.events))
    county.send(log, len(county.events))
    for number in numbers:
        DataKey.create(entity=f"application:{number}", recipient="i-village", wrapped=b"k" * 129)
    return blobs, numbers, digests


def test_cases_delivered_longer_ago_than_the_retention_lose_their_personal_data_and_keep_their_facts(village):
    blobs, numbers, digests = village
    statistics = sorted(Statistic.select().tuples())
    assert purge_personal_data(blobs, DELIVERED_ON + dt.timedelta(days=365), 365) == 0  # not yet
    assert purge_personal_data(blobs, DELIVERED_ON + dt.timedelta(days=366), 365) == 2
    for number, digest in zip(numbers, digests, strict=True):
        row = Application.get_by_id(number)
        assert (row.sealed, row.id_lookup, row.name_lookup, row.masked_id) == (PURGED, "", "", "")
        assert (row.state, row.item_code, row.delivered_on, row.rating) == ("rated", row.item_code, DELIVERED_ON, 2)
        assert not DataKey.select().where(DataKey.entity == f"application:{number}").exists()
        assert not blobs.has(digest) and Attachment.get(Attachment.number == number).material == "户口簿"
    assert sorted(Statistic.select().tuples()) == statistics
    assert purge_personal_data(blobs, DELIVERED_ON + dt.timedelta(days=800), 365) == 0  # once only
    assert inventory(SimpleNamespace(blobs=blobs)) == ([], [])  # a purged scan is never fetched again


def test_an_open_case_is_never_purged_nor_the_scan_it_shares_with_a_purged_one(village):
    blobs, numbers, digests = village
    Application.update(state="in_review", delivered_on=None).where(Application.number == numbers[0]).execute()
    Attachment.update(blob=digests[0]).where(Attachment.number == numbers[1]).execute()  # the same page twice
    assert purge_personal_data(blobs, DELIVERED_ON + dt.timedelta(days=5000), 30) == 1
    assert Application.get_by_id(numbers[0]).sealed != PURGED and blobs.has(digests[0])


def test_only_a_village_station_schedules_the_purge_and_scheduler_off_runs_no_job(node):
    node.start()
    try:
        assert node._scheduler.get_job("purge_personal_data") is not None
    finally:
        node.stop()
    node.config = dataclasses.replace(node.config, scheduler="off")
    node.start()
    assert node._scheduler is None
    node.stop()


def test_a_hub_keeps_everything(county_node):
    county_node.start()
    try:
        assert county_node._scheduler.get_job("purge_personal_data") is None
        assert county_node._scheduler.get_job("mark_deadlines") is not None
    finally:
        county_node.stop()
