"""Sync with real servers on loopback: village → township → county → city and back down.

The demo tree (provisioned once per module, copied per test) is served by four real
`onetrip serve` processes; the test drives each node's rounds itself with `onetrip sync`
(the servers' own schedulers wait an hour between rounds).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace

import pytest
import requests

from harness.clock import FrozenClock
from harness.cluster import LEVELS, RESIDENT, file, state_at
from harness.flaky import FlakyProxy
from harness.holding import HoldingProxy
from harness.servers import ROOT
from harness.tree import open_node
from node.cases.intake import transition
from node.cli import demo
from node.config import NodeConfig
from node.fleet import admin as fleet
from node.fleet import overview
from node.link import upstream
from provisioning.identity import save_identity
from provisioning.trust import serving_installation
from storage.database import db
from storage.models import Application, EventRecord, SyncLink
from sync.batch import Limits
from sync.errors import SyncError
from sync.keys import SigningKey
from sync.request import digest, sign_request
from sync.transport import HttpTransport, Unreachable


def test_an_application_filed_at_the_village_reaches_every_level_and_its_acceptance_comes_back(cluster, capsys):
    number = file(cluster.open("village"))
    db.close()
    for level in ("village", "township", "county"):
        assert cluster.sync(level) == 0, capsys.readouterr().err
    assert [state_at(cluster, level, number) for level in LEVELS] == ["submitted"] * 4
    again = upstream.sync_once(cluster.open("township"))
    db.close()
    assert again.pushed == 0 and again.pulled == 0  # the relay gets nothing back of what it pushed up

    township = cluster.open("township")
    transition(township.events, number, "application.accepted", {"by": "town.clerk"})
    db.close()
    assert cluster.sync("township") == 0, capsys.readouterr().err
    assert cluster.sync("village") == 0, capsys.readouterr().err
    assert state_at(cluster, "village", number) == "accepted"
    assert cluster.sync("county") == 0, capsys.readouterr().err
    assert state_at(cluster, "city", number) == "accepted"

    # Nothing arrived twice, and an idle round changes nothing.
    for level in LEVELS:
        cluster.open(level)
        assert EventRecord.select().where(EventRecord.entity == f"application:{number}").count() == 2
        db.close()
    status = requests.get(f"http://127.0.0.1:{cluster.port + 2}/api/v1/status", timeout=5).json()
    assert status["sync"]["parent"] and status["sync"]["last_error"] is None
    with sqlite3.connect(cluster.configs["township"].data_dir / "onetrip.db") as conn:  # the fleet page's columns
        (contact,) = conn.execute("SELECT station, pending_events, clock_offset_ms FROM contact").fetchall()
    assert contact[0].startswith("511302001001") and contact[1] == 0 and abs(contact[2]) < 60_000


def test_a_cut_link_is_reported_in_plain_words_and_resumes(cluster, capsys):
    number = file(cluster.open("village"))
    db.close()
    cluster.halt("township")
    assert cluster.sync("village") == 2
    assert "连不上上级" in capsys.readouterr().err
    cluster.serve("township")
    assert cluster.sync("village") == 0
    assert state_at(cluster, "township", number) == "submitted"
    cluster.open("village")
    link = SyncLink.get()
    assert link.up_cursor == EventRecord.select().order_by(EventRecord.arrival.desc()).first().arrival
    db.close()


class Recording(HttpTransport):
    """The real HTTP transport, keeping every request it sent so a test can replay or tamper with it."""

    def __init__(self, base_url: str):
        super().__init__(base_url)
        self.sent: list[tuple[str, dict, bytes]] = []

    def post(self, path: str, headers: dict[str, str], body: bytes) -> bytes:
        self.sent.append((path, dict(headers), body))
        return super().post(path, headers, body)


class Capture:
    """A link that records the request and then fails as a cut cable would."""

    def __init__(self):
        self.sent: list[tuple[str, dict, bytes]] = []

    def post(self, path: str, headers: dict[str, str], body: bytes) -> bytes:
        self.sent.append((path, dict(headers), body))
        raise Unreachable("cut")


def events_from(cluster, level: str, origin: str) -> int:
    """How many of `origin`'s events a node holds (its own scheduler may be syncing other streams meanwhile)."""
    with sqlite3.connect(cluster.configs[level].data_dir / "onetrip.db") as conn:
        return conn.execute("SELECT COUNT(*) FROM event WHERE origin = ?", (origin,)).fetchone()[0]


def post(cluster, path: str, headers: dict, body: bytes) -> requests.Response:
    url = f"http://127.0.0.1:{cluster.configs['township'].port}{path}"
    return requests.post(url, data=body, headers=headers, timeout=10)


def test_replayed_tampered_and_forged_requests_are_refused_and_change_nothing(cluster):
    village = cluster.open("village")
    upstream.sync_once(village)  # the township knows the village from here on
    file(village)
    capture = Capture()
    with pytest.raises(Unreachable):
        upstream.sync_once(village, capture)
    path, headers, body = capture.sent[0]
    before = events_from(cluster, "township", village.identity.installation)

    fresh = {**headers, "X-OneTrip-Nonce": os.urandom(16).hex()}  # a new nonce the signature does not cover
    assert post(cluster, path, fresh, body).json()["error"] == "request_refused"

    tampered = body[:-1] + bytes([body[-1] ^ 1])
    assert post(cluster, path, headers, tampered).json()["error"] == "request_refused"  # digest differs
    resigned = {**headers, "X-OneTrip-Digest": digest(tampered)}
    assert post(cluster, path, resigned, tampered).json()["error"] == "request_refused"  # signature differs

    thief = SigningKey.generate()  # someone else's key, claiming the village's installation
    forged = sign_request(
        thief,
        method="POST",
        path=path,
        station=village.identity.station,
        installation=village.identity.installation,
        time_ms=int(time.time() * 1000),
        nonce=os.urandom(16).hex(),
        body=body,
    )
    assert post(cluster, path, forged, body).json()["error"] == "request_refused"
    unsigned = post(cluster, path, {}, body)
    assert unsigned.status_code == 403 and "签名" in unsigned.json()["message"]
    assert events_from(cluster, "township", village.identity.installation) == before

    assert post(cluster, path, headers, body).ok  # the genuine request, once
    assert events_from(cluster, "township", village.identity.installation) > before
    replayed = post(cluster, path, headers, body)
    assert replayed.status_code == 403 and replayed.json()["error"] == "replayed_request"
    cluster.halt("township")
    cluster.serve("township")  # a restarted hub still knows the nonces it has seen
    replayed = post(cluster, path, headers, body)
    assert replayed.status_code == 403 and replayed.json()["error"] == "replayed_request"


def test_a_retried_push_applies_each_event_once(cluster):
    village = cluster.open("village")
    number = file(village)
    upstream.sync_once(village)
    SyncLink.update(up_cursor=0).execute()  # as if every acknowledgement had been lost
    report = upstream.sync_once(village)
    assert report.pushed > 0  # everything went again...
    db.close()
    cluster.open("township")
    assert EventRecord.select().where(EventRecord.entity == f"application:{number}").count() == 1  # ...and applied once
    db.close()


def test_a_clock_far_off_is_answered_with_the_parents_time_and_the_round_completes(cluster):
    config = cluster.configs["village"]
    skewed = FrozenClock(int(time.time() * 1000) + 3 * 3600 * 1000)  # three hours ahead
    village = open_node(config, clock=skewed)
    number = file(village)
    recorder = Recording(village.identity.parent_url)
    upstream.sync_once(village, recorder)
    signed_at = [int(headers["X-OneTrip-Time"]) for _, headers, _ in recorder.sent]
    assert any(abs(t - time.time() * 1000) < 60_000 for t in signed_at)  # it signed the parent's time instead
    assert state_at(cluster, "township", number) == "submitted"


def test_a_revoked_installation_is_refused(cluster, capsys):
    county = cluster.open("county")
    township_installation = serving_installation(cluster.open("township").identity.station)
    db.close()
    county = cluster.open("county")
    fleet.revoke(county, township_installation, "被盗")
    db.close()
    assert cluster.sync("township") == 2
    assert "已被吊销" in capsys.readouterr().err


def test_a_link_that_keeps_cutting_connections_still_delivers_everything_exactly_once(cluster):
    village = cluster.open("village")
    numbers = [file(village) for _ in range(12)]
    proxy = FlakyProxy(cluster.configs["township"].port, cuts=8, max_bytes=6000)
    try:
        save_identity(village.config.data_dir, replace(village.identity, parent_url=f"http://127.0.0.1:{proxy.port}"))
        village.identity = replace(village.identity, parent_url=f"http://127.0.0.1:{proxy.port}")
        for _attempt in range(30):
            try:
                upstream.sync_once(village, limits=Limits(max_events=4))
                break
            except SyncError:
                continue  # a cut: the next round resumes from the acknowledged cursors
        else:
            raise AssertionError("never completed")
    finally:
        proxy.close()
    assert proxy.cut > 0
    db.close()
    with sqlite3.connect(cluster.configs["township"].data_dir / "onetrip.db") as conn:
        for number in numbers:
            assert conn.execute("SELECT state FROM application WHERE number = ?", (number,)).fetchone() == (
                "submitted",
            )
        duplicates = conn.execute("SELECT origin, stream, seq FROM event GROUP BY 1, 2, 3 HAVING COUNT(*) > 1")
        assert duplicates.fetchall() == []


def up_cursor(cluster) -> int:
    """How far the village knows its parent holds its events (0 before its first round)."""
    cluster.open("village")
    link = SyncLink.select().first()
    db.close()
    return link.up_cursor if link else 0


def numbers_at(cluster, level: str) -> list[str]:
    with sqlite3.connect(cluster.configs[level].data_dir / "onetrip.db") as conn:
        return [number for (number,) in conn.execute("SELECT number FROM application")]


@pytest.mark.parametrize("victim", ["child", "parent"])
def test_a_process_killed_mid_sync_loses_and_duplicates_nothing(cluster, victim):
    """Each kill lands mid-round, provably: a proxy in front of the township holds the round's push, its
    answer when the village is killed (the township applied it, the village never heard), its last byte
    when the township is killed (it is reading the push and cannot have answered)."""
    village = cluster.open("village")
    numbers = [file(village) for _ in range(150)]
    identity, data_dir = village.identity, cluster.configs["village"].data_dir
    db.close()
    cursor = up_cursor(cluster)
    proxy = HoldingProxy(
        cluster.configs["township"].port, path=upstream.PUSH_PATH, hold="answer" if victim == "child" else "request"
    )
    save_identity(data_dir, replace(identity, parent_url=f"http://127.0.0.1:{proxy.port}"))
    try:
        child = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py"), "sync", "--data", str(data_dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert proxy.held.wait(timeout=60), "the round never reached its push"
        if victim == "child":
            child.kill()
            assert child.wait(timeout=60) == -signal.SIGKILL  # killed, not finished
            assert set(numbers) <= set(numbers_at(cluster, "township"))  # the township had applied the push
            assert up_cursor(cluster) == cursor  # and the village had not heard so
        else:
            server = cluster.servers.pop("township")
            server.kill()
            server.wait()
            assert proxy.answered_bytes == 0  # the township died before it answered the push
            assert child.wait(timeout=60) != 0  # the round was cut, not completed
            cluster.serve("township")
            assert not set(numbers) & set(numbers_at(cluster, "township"))  # nothing of the half-read push
    finally:
        proxy.close()
        save_identity(data_dir, identity)
    assert cluster.sync("village") == 0
    assert sorted(n for n in numbers_at(cluster, "township") if n in set(numbers)) == sorted(numbers)
    with sqlite3.connect(cluster.configs["township"].data_dir / "onetrip.db") as conn:
        duplicates = conn.execute("SELECT origin, stream, seq FROM event GROUP BY 1, 2, 3 HAVING COUNT(*) > 1")
        assert duplicates.fetchall() == []


def test_a_replaced_village_pc_gets_its_applications_back_and_can_read_them(cluster, tmp_path, capsys):
    from node.cases.intake import attach_scan, read_applicant, read_scan
    from node.runtime import initialise

    numbers = [file(cluster.open("village")) for _ in range(2)]
    village = cluster.open("village")
    scan = b"\xff\xd8\xff\xe0" + "身份证正面".encode() * 40_000  # a JPEG of about 600 KB: three chunks
    digest = attach_scan(village.events, village.identity, village.keys, village.blobs, numbers[0], "id", scan, "li")
    village = village.identity
    db.close()
    for level in ("village", "township"):
        assert cluster.sync(level) == 0, capsys.readouterr().err
    county = cluster.open("county")  # the scan came up through the township, after its event
    assert read_scan(county.identity, county.keys, county.blobs, numbers[0], digest) == ("image/jpeg", scan)
    db.close()
    county_url = f"http://127.0.0.1:{cluster.port + 1}"
    issued = fleet.replace(cluster.open("county"), village.station, "电脑损坏", county_url)
    db.close()

    new = NodeConfig(tmp_path / "village-new")
    initialise(new, level="village", name=village.name, region=village.region, algorithm="ecdsa-p256-sha256")
    demo.enrol_by_bundle(cluster.configs["county"], new, issued.code, county_url)
    cluster.configs["village"] = NodeConfig.load(new.data_dir)
    assert cluster.sync("township") == 0, capsys.readouterr().err  # the county's key grant comes down
    assert cluster.sync("village") == 0, capsys.readouterr().err
    restored = cluster.open("village")
    assert restored.identity.station == village.station and restored.identity.installation != village.installation
    assert {row.number for row in Application.select()} >= set(numbers)
    assert [read_applicant(n, restored.identity, restored.keys).name for n in numbers] == [RESIDENT.name] * 2
    assert read_scan(restored.identity, restored.keys, restored.blobs, numbers[0], digest) == ("image/jpeg", scan)


def test_the_county_fleet_page_shows_each_stations_last_contact_even_behind_a_relay(cluster, capsys):
    from node.link.health import VERSION

    file(cluster.open("village"))
    db.close()
    for level in ("village", "township"):
        assert cluster.sync(level) == 0, capsys.readouterr().err
    county = cluster.open("county")
    rows, _ = overview.overview(county, page=1, per_page=50)
    assert not any(row.station.startswith("511303") for row in rows)  # a sibling county is not this one's fleet
    by_level = {row.level: row for row in rows if row.installation and row.status != "已吊销"}
    township, village = by_level["township"], by_level["village"]
    assert township.status == village.status == "正常"
    assert township.version == village.version == VERSION
    assert township.pending_events == 0 and abs(township.clock_offset_s) <= 1
    assert "经" in village.last_contact and village.pending_events == 0  # reported by its township
    assert not any(
        row.station.count("-") and len(row.station.split("-")[1]) == 6 for row in rows
    )  # no provisional codes
    db.close()
    assert cluster.sync("county") == 0, capsys.readouterr().err  # the city hears of every station through it
    rows, _ = overview.overview(cluster.open("city"), page=1, per_page=50)
    line = [row for row in rows if row.station.startswith("511302")]  # the demo's other county (高坪区) apart
    at_city = {row.level: row for row in line if row.installation and row.status != "已吊销"}
    assert {level: at_city[level].status for level in ("county", "township", "village")} == dict.fromkeys(
        ("county", "township", "village"), "正常"
    )
    assert "经" in at_city["village"].last_contact and at_city["county"].version == VERSION
