"""Every `onetrip` command given a file or folder it cannot read or write says so in one Chinese line,
exits 2 and changes nothing."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app import main
from storage.database import db

ROOT = Path(__file__).resolve().parents[2]

# Commands that read a file: {missing} is a path that does not exist, {ok} a writable output path.
READING = {
    "import": ["import", "{missing}"],
    "enroll": ["enroll", "--bundle", "{missing}", "--code", "ABCD-EFGH", "--out", "{ok}"],
    "accept": ["accept", "--request", "{missing}", "--out", "{ok}"],
    "install-grant": ["install-grant", "--grant", "{missing}"],
    "add-operator": [
        "add-operator",
        "--username",
        "a.b",
        "--name",
        "甲",
        "--role",
        "agent",
        "--password-file",
        "{missing}",
    ],
    "publish catalogue": ["publish", "--catalogue", "{missing}"],
    "publish bundles": ["publish", "--catalogue", "{existing}", "--bundles", "{missing}"],
    "publish holidays": ["publish", "--holidays", "{missing}"],
    "seal-request": ["seal-request", "--seal", "S1", "--pin-file", "{missing}", "--out", "{ok}"],
    "seal-accept": ["seal-accept", "--request", "{missing}", "--out", "{ok}"],
    "seal-install": ["seal-install", "--grant", "{missing}"],
    "verify": ["verify", "{missing}"],
}
# Commands that write a file: {out} is where they cannot.
WRITING = {
    "export": ["export", "--to", "{out}"],
    "bundle": ["bundle", "--code", "ABCD-EFGH", "--out", "{out}"],
    "accept": ["accept", "--request", "{existing}", "--out", "{out}"],
    "enroll": ["enroll", "--bundle", "{existing}", "--code", "ABCD-EFGH", "--out", "{out}"],
    "register": ["register", "--name", "甲村", "--level", "village", "--region", "511302001002", "--qr-svg", "{out}"],
    "seal-request": ["seal-request", "--seal", "S1", "--pin-file", "{existing}", "--out", "{out}"],
    "seal-accept": ["seal-accept", "--request", "{existing}", "--out", "{out}"],
}
UNWRITABLE = {
    "in a missing folder": ("nowhere/out.bin", "不存在"),
    "under a file": ("a-file/out.bin", "不是文件夹"),
    "a folder": ("a-folder", "文件夹"),
}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("cli") / "node"
    assert main(["init", "--data", str(data), "--level", "city", "--name", "南充市", "--region", "511300"]) == 0
    db.close()
    return data


@pytest.fixture
def place(template, tmp_path) -> dict[str, str]:
    shutil.copytree(template, tmp_path / "node")
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "existing.txt").write_text("123456\n")
    return {
        "data": str(tmp_path / "node"),
        "missing": str(tmp_path / "missing.bin"),
        "existing": str(tmp_path / "existing.txt"),
        "ok": str(tmp_path / "ok.bin"),
    }


def _events(data: str) -> int:
    with sqlite3.connect(Path(data) / "onetrip.db") as conn:
        return conn.execute("SELECT COUNT(*) FROM event").fetchone()[0]


def _refused_in_one_line(argv: list[str], place: dict, capsys, *words: str) -> None:
    before = _events(place["data"])
    capsys.readouterr()
    assert main([argv[0], "--data", place["data"], *(a.format(**place) for a in argv[1:])]) == 2
    db.close()
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("onetrip: ") and all(w in err for w in words), err
    assert _events(place["data"]) == before
    assert not Path(place["ok"]).exists()


@pytest.mark.parametrize("argv", READING.values(), ids=READING.keys())
def test_a_command_given_a_missing_file_names_it_in_one_line(argv, place, capsys):
    _refused_in_one_line(argv, place, capsys, f"找不到文件 {place['missing']}")


@pytest.mark.parametrize(("where", "words"), UNWRITABLE.values(), ids=UNWRITABLE.keys())
@pytest.mark.parametrize("argv", WRITING.values(), ids=WRITING.keys())
def test_a_command_that_cannot_write_its_file_says_so_before_doing_anything(argv, where, words, place, capsys):
    out = str(Path(place["ok"]).parent / where)
    _refused_in_one_line(argv, {**place, "out": out}, capsys, f"无法写入 {out}", words)
    assert not Path(out + ".part").exists()


@pytest.mark.parametrize("command", [["init", "--level", "village", "--name", "甲", "--region", "511302001001"], []])
def test_a_folder_that_cannot_be_made_is_named(command, tmp_path, capsys):
    (tmp_path / "a-file").write_text("x")
    folder = tmp_path / "a-file" / "node"
    argv = [*command[:1], "--data", str(folder), *command[1:]] if command else ["demo", "--dir", str(folder)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "是文件，不是文件夹" in err and not folder.exists()


def test_the_real_command_exits_2_with_one_line_and_no_traceback(place):
    done = subprocess.run(
        [sys.executable, "app.py", "export", "--data", place["data"], "--to", place["missing"] + "/x/bundle.otb"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "无法写入" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("command", [["migrate"], ["status"], ["check"], ["sync"], ["export", "--to", "x.otb"]])
@pytest.mark.parametrize("where", ["missing", "a-file", "a-file/node"])
def test_a_data_folder_that_is_not_a_nodes_is_named(command, where, tmp_path, capsys):
    (tmp_path / "a-file").write_text("x")
    assert main([command[0], "--data", str(tmp_path / where), *command[1:]]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{tmp_path / where} 不是 OneTrip 数据目录" in err


def test_a_writable_file_is_written_whole_under_its_name(place, capsys):
    svg = Path(place["ok"]).with_suffix(".svg")
    argv = ["register", "--data", place["data"], "--name", "顺庆区", "--level", "county", "--region", "511302"]
    assert main([*argv, "--qr-svg", str(svg)]) == 0
    assert svg.read_bytes().startswith(b"<?xml") and b"<svg" in svg.read_bytes()
    assert not svg.with_name(svg.name + ".part").exists()
