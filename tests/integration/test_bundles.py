"""Sync by USB stick: a village exports what its county lacks, the county imports it and writes a
return bundle, the village imports that. Material scans travel in both. A truncated, altered,
replayed, stale or wrongly addressed bundle is refused with a clear message and changes nothing."""

from __future__ import annotations

import os
import shutil

from harness.cases import file
from harness.commands import onetrip, rows
from harness.tree import open_node
from node.cases.intake import attach_scan, read_scan, transition
from node.config import NodeConfig
from node.link import scans
from storage.database import db


def test_a_round_by_usb_stick_carries_an_application_up_and_its_acceptance_back(dirs, capsys):
    village, county = dirs / "village", dirs / "county"
    number = file(open_node(NodeConfig(village)))
    db.close()
    code, out = onetrip(capsys, "export", "--data", village, "--to", dirs / "up.otb")
    assert code == 0, out
    assert b"application" not in (dirs / "up.otb").read_bytes()  # sealed: a lost stick reveals nothing
    code, out = onetrip(capsys, "import", "--data", county, dirs / "up.otb")
    assert code == 0, out
    assert rows(county, f"SELECT state FROM application WHERE number = '{number}'") == [("submitted",)]

    node = open_node(NodeConfig(county))
    transition(node.events, number, "application.accepted", {"by": "county.clerk"})
    db.close()
    assert onetrip(capsys, "import", "--data", village, dirs / "up.otb.return")[0] == 0  # the first return
    assert onetrip(capsys, "export", "--data", village, "--to", dirs / "up2.otb")[0] == 0
    assert onetrip(capsys, "import", "--data", county, dirs / "up2.otb")[0] == 0
    assert onetrip(capsys, "import", "--data", village, dirs / "up2.otb.return")[0] == 0
    assert rows(village, f"SELECT state FROM application WHERE number = '{number}'") == [("accepted",)]
    assert rows(county, f"SELECT COUNT(*) FROM event WHERE entity = 'application:{number}'") == [(2,)]


def test_bad_bundles_are_refused_and_change_nothing(dirs, capsys):
    village, county = dirs / "village", dirs / "county"
    file(open_node(NodeConfig(village)))
    db.close()
    onetrip(capsys, "export", "--data", village, "--to", dirs / "up.otb")
    data = (dirs / "up.otb").read_bytes()
    before = rows(county, "SELECT COUNT(*) FROM event")
    (dirs / "cut.otb").write_bytes(data[: len(data) // 2])
    (dirs / "bent.otb").write_bytes(data[:-10] + bytes([data[-10] ^ 1]) + data[-9:])
    for bad, expected in (("cut.otb", "摘要不符"), ("bent.otb", "摘要不符")):
        code, out = onetrip(capsys, "import", "--data", county, dirs / bad)
        assert code == 2 and expected in out
    code, out = onetrip(capsys, "import", "--data", dirs / "city", dirs / "up.otb")  # addressed to the county
    assert code == 2 and "不是本机" in out
    code, out = onetrip(capsys, "import", "--data", village, dirs / "up.otb")  # its own
    assert code == 2 and "本机自己导出" in out
    assert rows(county, "SELECT COUNT(*) FROM event") == before

    assert onetrip(capsys, "import", "--data", county, dirs / "up.otb")[0] == 0
    after = rows(county, "SELECT COUNT(*) FROM event")
    code, out = onetrip(capsys, "import", "--data", county, dirs / "up.otb")
    assert code == 2 and "已经导入过" in out and rows(county, "SELECT COUNT(*) FROM event") == after

    assert onetrip(capsys, "import", "--data", village, dirs / "up.otb.return")[0] == 0
    code, out = onetrip(capsys, "import", "--data", village, dirs / "up.otb.return")
    assert code == 2 and "已过时" in out


def scan_at(data_dir, number: str, material: str) -> tuple[str, bytes]:
    """A 200 KB photo of a material attached to an application at that node; its blob name and bytes."""
    node = open_node(NodeConfig(data_dir))
    data = b"\xff\xd8\xff\xe0" + os.urandom(200_000)
    digest = attach_scan(node.events, node.identity, node.keys, node.blobs, number, material, data, "agent")
    node.events.sign_heads()
    db.close()
    return digest, data


def stick_round(capsys, dirs, name: str) -> int:
    """Export at the village, import at the county, import the return at the village; the bundle's size."""
    village, county, bundle = dirs / "village", dirs / "county", dirs / name
    for args in (("export", "--data", village, "--to", bundle), ("import", "--data", county, bundle)):
        code, out = onetrip(capsys, *args)
        assert code == 0, out
    code, out = onetrip(capsys, "import", "--data", village, dirs / f"{name}.return")
    assert code == 0, out
    return bundle.stat().st_size


def test_a_scan_filed_offline_goes_up_by_usb_stick_and_the_countys_scans_come_down(dirs, capsys):
    village, county = dirs / "village", dirs / "county"
    number = file(open_node(NodeConfig(village)))
    digest, data = scan_at(village, number, "id_card")
    assert stick_round(capsys, dirs, "up.otb") > len(data)
    assert data not in (dirs / "up.otb").read_bytes()

    node = open_node(NodeConfig(county))  # the county holds the scan, reads it and serves it to the village
    assert read_scan(node.identity, node.keys, node.blobs, number, digest) == ("image/jpeg", data)
    asker = node.events.trust.binding(open_node(NodeConfig(village)).identity.installation)
    node = open_node(NodeConfig(county))
    assert scans.answer(node, asker, {"op": "get", "digest": digest, "offset": 0})["total"] > len(data)
    db.close()

    county_digest, county_data = scan_at(county, number, "correction")  # received at the county's window
    assert stick_round(capsys, dirs, "up2.otb") < len(data)  # the village's scan is not carried again
    node = open_node(NodeConfig(village))
    assert read_scan(node.identity, node.keys, node.blobs, number, county_digest) == ("image/jpeg", county_data)

    node.blobs.delete(digest)  # a disk that lost a file: the next round by stick brings the county's copy
    db.close()
    stick_round(capsys, dirs, "up3.otb")
    node = open_node(NodeConfig(village))
    assert read_scan(node.identity, node.keys, node.blobs, number, digest) == ("image/jpeg", data)
    db.close()


def test_a_bundle_with_an_altered_or_cut_scan_is_refused_and_applies_nothing(dirs, capsys):
    village, county = dirs / "village", dirs / "county"
    number = file(open_node(NodeConfig(village)))
    scan_at(village, number, "id_card")
    onetrip(capsys, "export", "--data", village, "--to", dirs / "up.otb")
    data = (dirs / "up.otb").read_bytes()
    before = rows(county, "SELECT COUNT(*) FROM event")
    at = len(data) - 1000  # inside the scan, after the signed body
    (dirs / "bent.otb").write_bytes(data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :])
    (dirs / "cut.otb").write_bytes(data[:at])
    (dirs / "long.otb").write_bytes(data + b"\0")
    for bad, expected in (("bent.otb", "已被改动"), ("cut.otb", "截断"), ("long.otb", "多余")):
        code, out = onetrip(capsys, "import", "--data", county, dirs / bad)
        assert code == 2 and expected in out, out
        assert not (dirs / f"{bad}.return").exists()
    assert rows(county, "SELECT COUNT(*) FROM event") == before
    assert rows(county, "SELECT COUNT(*) FROM attachment") == [(0,)]
    assert not [p for p in (county / "blobs").rglob("*") if p.is_file()]  # nothing stored, nothing staged left
    assert onetrip(capsys, "import", "--data", county, dirs / "up.otb")[0] == 0  # the stick as written is fine


def lost_to_a_restore(capsys, dirs, restored: str) -> str:
    """A round by stick, a backup of one side's database, an application filed at the village and carried up
    in a second round, then the backup put back (the disk died): the application that side lost."""
    stick_round(capsys, dirs, "first.otb")
    shutil.copy(dirs / restored / "onetrip.db", dirs / "backup.db")
    lost = file(open_node(NodeConfig(dirs / "village")))
    db.close()
    stick_round(capsys, dirs, "second.otb")
    shutil.copy(dirs / "backup.db", dirs / restored / "onetrip.db")
    assert rows(dirs / restored, f"SELECT COUNT(*) FROM application WHERE number = '{lost}'") == [(0,)]
    return lost


def test_by_stick_a_county_restored_from_a_backup_gets_back_what_it_had_acknowledged(dirs, capsys):
    county = dirs / "county"
    lost = lost_to_a_restore(capsys, dirs, "county")

    stick_round(capsys, dirs, "third.otb")  # nothing new at the village: its heads show what the county lacks
    stick_round(capsys, dirs, "fourth.otb")  # which this bundle carries again
    assert rows(county, f"SELECT state FROM application WHERE number = '{lost}'") == [("submitted",)]
    assert rows(county, f"SELECT COUNT(*) FROM event WHERE entity = 'application:{lost}'") == [(1,)]


def test_by_stick_a_village_restored_from_an_old_copy_gets_its_own_work_back(dirs, capsys):
    village, county = dirs / "village", dirs / "county"
    lost = lost_to_a_restore(capsys, dirs, "village")
    stick_round(capsys, dirs, "third.otb")
    assert rows(village, f"SELECT state FROM application WHERE number = '{lost}'") == [("submitted",)]
    after = file(open_node(NodeConfig(village)))  # and it goes on where its stream stood, without a fork
    db.close()
    stick_round(capsys, dirs, "fourth.otb")
    assert rows(county, f"SELECT state FROM application WHERE number = '{after}'") == [("submitted",)]


def test_a_return_bundle_that_cannot_be_written_is_named_before_anything_is_imported(dirs, capsys):
    village, county = dirs / "village", dirs / "county"
    number = file(open_node(NodeConfig(village)))
    db.close()
    assert onetrip(capsys, "export", "--data", village, "--to", dirs / "up.otb")[0] == 0
    before = rows(county, "SELECT COUNT(*) FROM event")
    code, out = onetrip(capsys, "import", "--data", county, dirs / "up.otb", "--out", dirs / "gone" / "back.otb")
    assert code == 2 and out == f"onetrip: 无法写入 {dirs / 'gone' / 'back.otb'}：文件夹 {dirs / 'gone'} 不存在\n"
    assert rows(county, "SELECT COUNT(*) FROM event") == before
    assert rows(county, f"SELECT COUNT(*) FROM application WHERE number = '{number}'") == [(0,)]
