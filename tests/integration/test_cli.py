"""The `onetrip` command: init, migrate, status, check, rebuild; refusals write nothing."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from contextlib import nullcontext
from pathlib import Path

import pytest

from app import main
from storage.database import db
from storage.migrations import LATEST

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _close_db():
    yield
    if db.obj is not None:
        db.close()


def init(data_dir: Path, *extra: str) -> int:
    return main(
        [
            "init",
            "--data",
            str(data_dir),
            "--level",
            "village",
            "--name",
            "青山村便民服务代办点",
            "--region",
            "511302001001",
            *extra,
        ]
    )


def test_init_creates_keys_readable_by_the_owner_only_and_a_working_node(tmp_path, capsys):
    data_dir = tmp_path / "village"
    assert init(data_dir) == 0
    for name in ("signing.pem", "agreement.pem", "lookup.key"):
        assert stat.S_IMODE((data_dir / "keys" / name).stat().st_mode) == 0o600
    capsys.readouterr()
    assert main(["status", "--data", str(data_dir)]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["level"] == "village" and status["region"] == "511302001001"
    assert status["event_count"] == 2  # the station and its installation, as events
    assert main(["check", "--data", str(data_dir)]) == 0


@pytest.mark.parametrize(
    "level, region, complaint",
    [
        ("village", "51130200100", "12 位"),
        ("village", "991302001001", "省级"),
        ("township", "51130200A", "数字"),
        ("hamlet", "511302001001", None),  # argparse refuses an unknown level itself
    ],
)
def test_init_refuses_bad_input_with_a_clear_message_and_writes_nothing(tmp_path, capsys, level, region, complaint):
    data_dir = tmp_path / "node"
    with pytest.raises(SystemExit) if complaint is None else nullcontext():
        code = main(["init", "--data", str(data_dir), "--level", level, "--name", "某站", "--region", region])
        assert code == 2
    if complaint:
        assert complaint in capsys.readouterr().err
    assert not data_dir.exists()
    assert list(tmp_path.iterdir()) == []


def test_init_refuses_an_existing_data_dir_and_leaves_it_as_it_was(tmp_path, capsys):
    data_dir = tmp_path / "village"
    init(data_dir)
    before = {p: p.read_bytes() for p in data_dir.rglob("*") if p.is_file()}
    assert init(data_dir) == 2
    assert "已存在" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in data_dir.rglob("*") if p.is_file()} == before


def test_rebuild_reproduces_the_projection(tmp_path, capsys):
    data_dir = tmp_path / "village"
    init(data_dir)
    capsys.readouterr()
    assert main(["rebuild", "--data", str(data_dir)]) == 0
    assert json.loads(capsys.readouterr().out)["applied"] == 2


def test_serve_refuses_a_database_with_pending_migrations(tmp_path, capsys):
    from storage.database import bind, open_database
    from storage.models import SchemaVersion

    data_dir = tmp_path / "village"
    init(data_dir)
    SchemaVersion.delete().where(SchemaVersion.version == LATEST).execute()
    db.close()
    assert main(["status", "--data", str(data_dir)]) == 2
    assert "onetrip migrate" in capsys.readouterr().err
    assert main(["migrate", "--data", str(data_dir)]) == 0
    bind(open_database(f"sqlite:///{data_dir / 'onetrip.db'}"))
    assert main(["status", "--data", str(data_dir)]) == 0


def test_a_data_dir_that_is_not_one_is_named_as_such(tmp_path, capsys):
    assert main(["status", "--data", str(tmp_path)]) == 2
    assert "onetrip init" in capsys.readouterr().err


def test_init_on_postgresql_keeps_the_events_in_the_hub_database(tmp_path, postgres_database, capsys):
    postgres_url = postgres_database
    data_dir = tmp_path / "county"
    assert (
        main(
            [
                "init",
                "--data",
                str(data_dir),
                "--level",
                "county",
                "--name",
                "顺庆区政务服务中心",
                "--region",
                "511302",
                "--database",
                postgres_url,
            ]
        )
        == 0
    )
    assert not (data_dir / "onetrip.db").exists()
    assert postgres_url in (data_dir / "onetrip.toml").read_text()
    capsys.readouterr()
    assert main(["status", "--data", str(data_dir)]) == 0
    assert json.loads(capsys.readouterr().out)["event_count"] == 2


def test_the_console_script_is_python_app_py(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "app.py"), "--help"], capture_output=True, text=True, check=True)
    script = Path(sys.executable).with_name("onetrip")
    assert script.exists()
    assert subprocess.run([str(script), "--help"], capture_output=True, text=True, check=True).stdout == out.stdout


def test_an_init_that_fails_halfway_leaves_nothing_and_can_be_run_again(tmp_path, monkeypatch, capsys):
    import node.runtime

    def broken_disk(data_dir):
        raise OSError("磁盘已满")

    monkeypatch.setattr(node.runtime, "create_ca_key", broken_disk)
    data_dir = tmp_path / "county"
    with pytest.raises(OSError):
        main(["init", "--data", str(data_dir), "--level", "county", "--name", "顺庆区", "--region", "511302"])
    assert not data_dir.exists()
    monkeypatch.undo()
    assert main(["init", "--data", str(data_dir), "--level", "county", "--name", "顺庆区", "--region", "511302"]) == 0


def test_a_refused_registration_with_an_oversize_region_is_audited_on_postgresql_too(postgres_database, tmp_path):
    from node.config import NodeConfig
    from node.fleet import admin as fleet
    from node.runtime import Node, initialise
    from provisioning.errors import EnrolmentRefused
    from storage.models import AuditEntry

    config = NodeConfig(tmp_path / "city", database=postgres_database)
    initialise(config, level="city", name="南充市", region="511300", algorithm="ecdsa-p256-sha256")
    city = Node.from_config(config)
    with pytest.raises(EnrolmentRefused):
        fleet.register(city, name="某县", level="county", region="5" * 300, hub_url="http://x.invalid")
    assert AuditEntry.select().where(AuditEntry.outcome == "refused").count() == 1
