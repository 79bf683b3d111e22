"""The trust tree with real servers on loopback: a city and a county hub bootstrapped, a township
enrolled online, a village by USB bundle, the chain checked by `openssl verify`, an installation
revoked and refused, and the county's CA key rotated with every station still verifying."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest
from cryptography import x509

from app import main
from harness.servers import free_port, start, stop
from node.config import NodeConfig
from node.runtime import Node
from provisioning.certs import binding_of, to_pem
from storage.database import db
from storage.models import EventRecord
from sync.chain import parse_head
from sync.log import QUARANTINED


def onetrip(capsys, *args: str) -> str:
    """Run one CLI command in-process; return what it printed, failing on a non-zero exit."""
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    db.close()
    assert code == 0, err
    return out


def refused(capsys, *args: str) -> str:
    capsys.readouterr()
    code = main([str(a) for a in args])
    _, err = capsys.readouterr()
    db.close()
    assert code == 2, "the command should have been refused"
    return err


def line(out: str, label: str) -> str:
    found = next(text for text in out.splitlines() if text.startswith(label))
    return found.split(label, 1)[1].strip(" ：:")


def certificates(data_dir: Path, where: str = "1=1") -> list[tuple[str, str, x509.Certificate]]:
    with sqlite3.connect(data_dir / "onetrip.db") as conn:
        rows = conn.execute(f"SELECT installation, use, der FROM certificate WHERE {where}").fetchall()
    return [(i, u, x509.load_der_x509_certificate(d)) for i, u, d in rows]


def openssl_verify(tmp: Path, leaf: x509.Certificate, untrusted: list[x509.Certificate], root: x509.Certificate) -> str:
    (tmp / "root.pem").write_text(to_pem(root))
    (tmp / "chain.pem").write_text("".join(to_pem(c) for c in untrusted))
    (tmp / "leaf.pem").write_text(to_pem(leaf))
    return (
        subprocess.run(
            ["openssl", "verify", "-CAfile", tmp / "root.pem", "-untrusted", tmp / "chain.pem", tmp / "leaf.pem"],
            capture_output=True,
            text=True,
        ).stdout
        + ""
    )


def identity_of(data_dir: Path) -> dict:
    import json

    return json.loads((data_dir / "identity.json").read_text("utf-8"))


@pytest.fixture
def tree(tmp_path, capsys):
    city, county = tmp_path / "city", tmp_path / "county"
    city_port, county_port = free_port(), free_port()
    onetrip(capsys, "init", "--data", city, "--level", "city", "--name", "南充市政务服务中心", "--region", "511300")
    onetrip(capsys, "init", "--data", county, "--level", "county", "--name", "顺庆区政务服务中心", "--region", "511302")
    servers = [start(["serve", "--data", str(city)], city_port)]
    try:
        out = onetrip(
            capsys,
            "register",
            "--data",
            city,
            "--name",
            "顺庆区政务服务中心",
            "--level",
            "county",
            "--region",
            "511302",
            "--hub-url",
            f"http://127.0.0.1:{city_port}",
        )
        onetrip(capsys, "enroll", "--data", county, "--qr", line(out, "二维码内容"))
        servers.append(start(["serve", "--data", str(county)], county_port))
        yield {"city": city, "county": county, "county_url": f"http://127.0.0.1:{county_port}", "tmp": tmp_path}
    finally:
        for server in servers:
            stop(server)


def test_a_township_enrols_online_and_a_village_by_bundle_and_openssl_verifies_the_chain(tree, capsys):
    county, tmp = tree["county"], tree["tmp"]
    town, village = tmp / "town", tmp / "village"
    onetrip(
        capsys, "init", "--data", town, "--level", "township", "--name", "搬罾街道便民服务中心", "--region", "511302001"
    )
    onetrip(
        capsys,
        "init",
        "--data",
        village,
        "--level",
        "village",
        "--name",
        "青山村便民服务代办点",
        "--region",
        "511302001001",
    )

    out = onetrip(
        capsys,
        "register",
        "--data",
        county,
        "--name",
        "搬罾街道便民服务中心",
        "--level",
        "township",
        "--region",
        "511302001",
        "--hub-url",
        tree["county_url"],
    )
    onetrip(capsys, "enroll", "--data", town, "--qr", line(out, "二维码内容"))
    town_station = identity_of(town)["station"]
    assert town_station == line(out, "已登记 搬罾街道便民服务中心").split()[-1]
    onetrip(capsys, "init", "--data", tmp / "twin", "--level", "township", "--name", "搬罾", "--region", "511302001")
    assert "已使用" in refused(capsys, "enroll", "--data", tmp / "twin", "--qr", line(out, "二维码内容"))

    out = onetrip(
        capsys,
        "register",
        "--data",
        county,
        "--name",
        "青山村便民服务代办点",
        "--level",
        "village",
        "--region",
        "511302001001",
        "--parent",
        town_station,
    )
    code = line(out, "注册码")
    onetrip(capsys, "bundle", "--data", county, "--code", code, "--out", tmp / "v.bundle")
    onetrip(capsys, "enroll", "--data", village, "--bundle", tmp / "v.bundle", "--code", code, "--out", tmp / "v.req")
    onetrip(capsys, "accept", "--data", county, "--request", tmp / "v.req", "--out", tmp / "v.grant")
    onetrip(capsys, "install-grant", "--data", village, "--grant", tmp / "v.grant")
    assert identity_of(village)["parent"] == town_station and identity_of(village)["provisional"] is False

    # Every node now verifies every other one's certificate, and so does openssl.
    village_id = identity_of(village)["installation"]
    for holder in (town, village, tree["city"]):
        onetrip(capsys, "check", "--data", holder)
    ((_, _, leaf),) = certificates(village, f"installation = '{village_id}' AND use = 'signing'")
    ((_, _, county_ca),) = certificates(village, "use = 'ca'")
    with sqlite3.connect(village / "onetrip.db") as conn:
        root = x509.load_der_x509_certificate(conn.execute("SELECT der FROM trust_anchor").fetchone()[0])
    assert openssl_verify(tmp, leaf, [county_ca], root).strip().endswith(": OK")
    assert binding_of(leaf).region == "511302001001" and binding_of(leaf).level == "village"
    assert "application.decided" not in binding_of(leaf).authority


def test_a_revoked_installation_is_refused_and_its_later_events_quarantined(tree, capsys):
    county, tmp = tree["county"], tree["tmp"]
    town = tmp / "town"
    onetrip(
        capsys, "init", "--data", town, "--level", "township", "--name", "搬罾街道便民服务中心", "--region", "511302001"
    )
    out = onetrip(
        capsys,
        "register",
        "--data",
        county,
        "--name",
        "搬罾街道便民服务中心",
        "--level",
        "township",
        "--region",
        "511302001",
        "--hub-url",
        tree["county_url"],
    )
    onetrip(capsys, "enroll", "--data", town, "--qr", line(out, "二维码内容"))
    stolen = identity_of(town)["installation"]

    # Work done before the theft reaches the county; then the PC is stolen and revoked.
    before = _town_batch(town, capsys, "before")
    _ingest_at(county, before)
    onetrip(capsys, "revoke", "--data", county, "--installation", stolen, "--reason", "电脑被盗")
    after = _town_batch(town, capsys, "after")
    receipt = _ingest_at(county, after)
    assert receipt.quarantined == 1 and receipt.applied == 0
    node = Node.from_config(NodeConfig(county))

    def held(batch):  # the event the batch ends with, as the county keeps it
        return EventRecord.get(
            (EventRecord.origin == stolen) & (EventRecord.stream == batch[1].stream) & (EventRecord.seq == batch[1].seq)
        )

    record = held(after)
    assert record.status == QUARANTINED and "吊销" in record.reason
    assert held(before).status == "applied"
    db.close()
    del node

    # The stolen PC cannot enrol again, even with a fresh code and its identity file reset by the thief.
    (town / "identity.json").write_text(
        (town / "identity.json").read_text("utf-8").replace('"provisional": false', '"provisional": true'), "utf-8"
    )
    out = onetrip(
        capsys,
        "register",
        "--data",
        county,
        "--name",
        "搬罾街道便民服务中心",
        "--level",
        "township",
        "--region",
        "511302001",
        "--hub-url",
        tree["county_url"],
    )
    assert "吊销" in refused(capsys, "enroll", "--data", town, "--qr", line(out, "二维码内容"))


def _town_batch(town: Path, capsys, name: str):
    """The township writes one event and signs its head; return the batch as a hub would receive it."""
    node = Node.from_config(NodeConfig(town))
    event = node.events.append(
        "station.created",  # the township declaring itself again, under another name
        f"station:{node.identity.station}",
        {"code": node.identity.station, "name": name, "level": "township", "region": "511302001"},
        stream=node.identity.station,
    )
    head = next(h for h in node.events.sign_heads() if h.stream == event.stream)
    raws = node.events.events_of(event.origin, event.stream, 0, head.seq)
    db.close()
    return raws, parse_head(head.body, head.signature)


def _ingest_at(hub: Path, batch):
    node = Node.from_config(NodeConfig(hub))
    try:
        return node.events.ingest(*batch)
    finally:
        db.close()


def test_the_county_rotates_its_key_and_old_and_new_stations_verify(tree, capsys):
    county, tmp = tree["county"], tree["tmp"]
    old_village, new_village = tmp / "v1", tmp / "v2"
    for data_dir, region in ((old_village, "511302001001"), (new_village, "511302001002")):
        onetrip(
            capsys, "init", "--data", data_dir, "--level", "village", "--name", f"村{region[-3:]}", "--region", region
        )
    out = onetrip(
        capsys,
        "register",
        "--data",
        county,
        "--name",
        "村001",
        "--level",
        "village",
        "--region",
        "511302001001",
        "--hub-url",
        tree["county_url"],
    )
    onetrip(capsys, "enroll", "--data", old_village, "--qr", line(out, "二维码内容"))

    onetrip(capsys, "rotate-ca", "--data", county)
    out = onetrip(
        capsys,
        "register",
        "--data",
        county,
        "--name",
        "村002",
        "--level",
        "village",
        "--region",
        "511302001002",
        "--hub-url",
        tree["county_url"],
    )
    qr = line(out, "二维码内容")
    onetrip(capsys, "enroll", "--data", new_village, "--qr", qr)

    new_id = identity_of(new_village)["installation"]
    ((_, _, leaf),) = certificates(new_village, f"installation = '{new_id}' AND use = 'signing'")
    cas = [c for _, _, c in certificates(new_village, "use = 'ca'")]
    assert len(cas) == 2
    with sqlite3.connect(new_village / "onetrip.db") as conn:
        root = x509.load_der_x509_certificate(conn.execute("SELECT der FROM trust_anchor").fetchone()[0])
    assert openssl_verify(tmp, leaf, cas, root).strip().endswith(": OK")
    # The old station learns the new key from the county's trust stream and verifies the new station.
    node = Node.from_config(NodeConfig(old_village))
    try:
        assert node.events.trust.verifying_key(new_id) is None
    finally:
        db.close()
    onetrip(capsys, "trust-refresh", "--data", old_village)
    node = Node.from_config(NodeConfig(old_village))
    try:
        assert node.events.trust.verifying_key(new_id) is not None
        assert node.check() == []
    finally:
        db.close()


def test_an_installation_renews_its_certificate_and_a_replaced_pc_is_linked_to_the_old_one(tree, capsys):
    county, tmp = tree["county"], tree["tmp"]
    old_pc, new_pc = tmp / "old", tmp / "new"
    for data_dir in (old_pc, new_pc):
        onetrip(
            capsys, "init", "--data", data_dir, "--level", "village", "--name", "青山村", "--region", "511302001001"
        )
    out = onetrip(
        capsys,
        "register",
        "--data",
        county,
        "--name",
        "青山村",
        "--level",
        "village",
        "--region",
        "511302001001",
        "--hub-url",
        tree["county_url"],
    )
    station = line(out, "已登记 青山村").split()[-1]
    onetrip(capsys, "enroll", "--data", old_pc, "--qr", line(out, "二维码内容"))
    old_id = identity_of(old_pc)["installation"]

    onetrip(capsys, "renew", "--data", old_pc)
    assert len(certificates(old_pc, f"installation = '{old_id}' AND use = 'signing'")) == 2
    onetrip(capsys, "check", "--data", old_pc)  # events signed before the renewal still verify

    out = onetrip(capsys, "replace", "--data", county, "--station", station, "--reason", "硬盘损坏")
    code = out.split("注册码 ")[1].split("（")[0]
    onetrip(capsys, "enroll", "--data", new_pc, "--hub", tree["county_url"], "--code", code)
    assert identity_of(new_pc)["station"] == station
    new_id = identity_of(new_pc)["installation"]
    with sqlite3.connect(new_pc / "onetrip.db") as conn:
        assert conn.execute("SELECT replaces FROM replacement WHERE installation = ?", (new_id,)).fetchone() == (
            old_id,
        )
        assert conn.execute("SELECT count(*) FROM revocation WHERE installation = ?", (old_id,)).fetchone()[0] >= 1
    assert "吊销" in refused(capsys, "renew", "--data", old_pc)
