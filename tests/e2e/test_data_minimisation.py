"""Residents' data is read where the case is handled (DESIGN invariants 9 and 12): the station, its
township and its county; the city, which every event reaches, reads none of it."""

from __future__ import annotations

from harness.cluster import LEVELS, RESIDENT, file, state_at
from node.cases.intake import read_applicant
from node.errors import DomainError
from storage.database import db
from storage.models import Application, DataKey
from sync.errors import SyncError


def name_read_at(cluster, level: str, number: str) -> str | None:
    """The resident's name as this node decrypts it; None where it holds no key to, "" where the
    application does not reach it at all."""
    node = cluster.open(level)
    if Application.get_or_none(Application.number == number) is None:
        db.close()
        return ""
    try:
        return read_applicant(number, node.identity, node.keys).name
    except (SyncError, DomainError):
        return None
    finally:
        db.close()


def test_the_city_reads_no_resident_of_a_county_hall_nor_of_a_village_while_those_handling_them_do(cluster, capsys):
    at_hall = file(cluster.open("county"))
    at_village = file(cluster.open("village"))
    db.close()
    for level in ("village", "township", "county"):
        assert cluster.sync(level) == 0, capsys.readouterr().err
    assert state_at(cluster, "city", at_hall) == state_at(cluster, "city", at_village) == "submitted"

    assert [name_read_at(cluster, level, at_hall) for level in LEVELS] == [None, RESIDENT.name, "", ""]
    assert [name_read_at(cluster, level, at_village) for level in LEVELS] == [None, *[RESIDENT.name] * 3]
    cluster.open("city")
    assert not DataKey.select().where(DataKey.entity.in_([f"application:{at_hall}", f"application:{at_village}"]))
    db.close()
