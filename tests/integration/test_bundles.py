"""Sync by USB stick: a village exports what its county lacks, the county imports it and writes a
return bundle, the village imports that. A truncated, altered, replayed, stale or wrongly addressed
bundle is refused with a clear message and changes nothing."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from app import main
from node.applications import transition
from node.config import NodeConfig
from storage.database import db
from tests.support.tree import open_node, provision_village

from .test_applications import file


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    base = tmp_path_factory.mktemp("bundles")
    provision_village(base)
    return base


@pytest.fixture
def dirs(template, tmp_path):
    db.close()
    for name in ("city", "county", "village"):
        shutil.copytree(template / name, tmp_path / name)
    yield tmp_path
    db.close()


def onetrip(capsys, *args) -> tuple[int, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    db.close()
    out, err = capsys.readouterr()
    return code, out + err


def rows(data_dir, sql: str) -> list[tuple]:
    with sqlite3.connect(data_dir / "onetrip.db") as conn:
        return conn.execute(sql).fetchall()


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
