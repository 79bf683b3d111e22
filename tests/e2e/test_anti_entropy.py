"""Anti-entropy with real servers on loopback: a node that lost what it had acknowledged is repaired.

Cursors alone cannot see it: a hub restored from last night's backup, or a village PC from an old
disk image, still looks caught up to the other side. After each round both sides compare the
digest of the link's scope, and resend what is missing either way.
"""

from __future__ import annotations

import dataclasses

import pytest

from harness.cluster import file, state_at
from node.link import upstream
from storage.database import db
from storage.models import EventRecord
from sync import canonical
from sync.batch import decode_batch
from sync.request import PULL_CONTEXT


def round_of(cluster, level: str) -> upstream.RoundReport:
    report = upstream.sync_once(cluster.open(level))
    db.close()
    return report


def events_of(cluster, level: str, entity: str) -> list[str]:
    cluster.open(level)
    eids = [e for (e,) in EventRecord.select(EventRecord.eid).where(EventRecord.entity == entity).tuples()]
    db.close()
    return sorted(eids)


def test_a_normal_round_finds_both_sides_in_step(cluster):
    file(cluster.open("village"))
    db.close()
    assert round_of(cluster, "village").repaired == 0
    assert round_of(cluster, "village").repaired == 0  # idle
    assert round_of(cluster, "township").repaired == 0  # a relay's scope: its villages' streams too


def test_a_hub_restored_from_an_old_backup_gets_back_what_it_had_acknowledged(cluster):
    kept = file(cluster.open("village"))
    db.close()
    round_of(cluster, "village")
    cluster.halt("township")
    backup = cluster.backup("township")
    cluster.serve("township")
    lost = file(cluster.open("village"))
    db.close()
    round_of(cluster, "village")
    cluster.halt("township")
    cluster.restore("township", backup)  # the disk died; last night's backup comes back
    cluster.serve("township")
    assert state_at(cluster, "township", lost) is None

    report = round_of(cluster, "village")  # nothing new at the village: only the digest sees the loss
    assert report.pushed == 0 and report.repaired == 1
    assert [state_at(cluster, "township", n) for n in (kept, lost)] == ["submitted", "submitted"]
    assert round_of(cluster, "village").repaired == 0
    round_of(cluster, "township")
    assert state_at(cluster, "county", lost) == "submitted"


def test_a_village_restored_from_an_old_copy_gets_its_own_work_back_and_goes_on_without_a_fork(cluster, tmp_path):
    round_of(cluster, "village")
    backup = cluster.backup("village")
    lost = file(cluster.open("village"))
    db.close()
    round_of(cluster, "village")
    cluster.restore("village", backup)
    assert state_at(cluster, "village", lost) is None

    assert round_of(cluster, "village").repaired == 1
    assert state_at(cluster, "village", lost) == "submitted"
    after = file(cluster.open("village"))  # its next seq follows what came back: not a second history
    db.close()
    assert round_of(cluster, "village").repaired == 0
    assert state_at(cluster, "township", after) == "submitted"
    assert events_of(cluster, "village", f"application:{lost}") == events_of(cluster, "township", f"application:{lost}")


def test_a_hub_answers_a_station_on_the_previous_protocol_and_refuses_the_one_before(cluster):
    """Protocol 2 answers are sealed to the station's certified key, 3's with its request's key: both open."""
    village = cluster.open("village")
    parent = upstream.Parent(village)
    asked = canonical.encode({"cursor": 0, "status": {}})
    with pytest.raises(upstream.Refused) as refused:
        dataclasses.replace(parent.channel, protocol=1).call(upstream.PULL_PATH, PULL_CONTEXT, asked)
    assert refused.value.code == "protocol_version" and "第 2、3 版" in str(refused.value)
    for protocol in (2, 3):
        channel = dataclasses.replace(parent.channel, protocol=protocol)
        batch = decode_batch(channel.call(upstream.PULL_PATH, PULL_CONTEXT, asked))
        while batch.more:
            batch = decode_batch(
                channel.call(upstream.PULL_PATH, PULL_CONTEXT, canonical.encode({"cursor": batch.cursor, "status": {}}))
            )
        assert batch.digest is not None
    db.close()
