"""A station whose disk fills: a scan upload, a filing and a USB-stick import say so in Chinese (507 with
how much is needed; the command line one line and exit 2), keep nothing half, and work again once space
is freed. The data dir sits on a real tmpfs of a few MB that the test fills."""

from __future__ import annotations

import io
import shutil

import pytest

from harness.cases import file
from harness.cases import item as an_item
from harness.commands import onetrip, rows
from harness.disk import fill, small_disk
from harness.tree import open_node
from harness.web import intake, login, post_intake, token
from node.config import NodeConfig
from node.link import status, upstream
from provisioning.operators import create_operator
from storage.database import db
from storage.errors import DiskFull
from storage.models import Application, Attachment, EventRecord
from web import create_app

JPEG = b"\xff\xd8\xff\xe0" + "身份证正面".encode() * 40_000  # 600 KB


def settle_wal(data_dir) -> None:
    """Fold the write-ahead log into the database and cut it to nothing, so the next write needs new space."""
    import sqlite3

    with sqlite3.connect(data_dir / "onetrip.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


@pytest.fixture
def disk(tmp_path):
    with small_disk(tmp_path / "disk", size_mb=24) as where:
        yield where
        db.close()


@pytest.fixture
def client(county_template, disk):
    shutil.copytree(county_template.county.data_dir, disk / "county")
    node = open_node(NodeConfig(disk / "county"))
    create_operator(
        node.events, node.identity.station, username="li", name="李代办", role="agent", password="agent-pass-1"
    )
    client = create_app(node=node).test_client()
    login(client, "li", "agent-pass-1")
    return client


def files_under(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def upload(client, page: str, material: str):
    form = {"csrf_token": token(client, page), "material": material, "scan": (io.BytesIO(JPEG), "id.jpg")}
    return client.post(f"{page}/materials", data=form, content_type="multipart/form-data")


def test_a_scan_upload_on_a_full_disk_says_so_keeps_nothing_and_works_once_space_is_freed(client, disk):
    item = an_item()
    page = post_intake(client, item).headers["Location"]
    blobs, events = disk / "county" / "blobs", EventRecord.select().count()
    before = files_under(blobs) if blobs.exists() else []
    filler = fill(disk, leave_bytes=len(JPEG) // 2)

    refused = upload(client, page, item.materials[0].key)
    assert refused.status_code == 507
    text = refused.get_data(as_text=True)
    assert "磁盘已满" in text and "至少需要" in text and "MB" in text and "Traceback" not in text
    assert "<h1>磁盘已满</h1>" in text and "腾出空间后重新操作" in text  # the page says what to do next
    assert (files_under(blobs) if blobs.exists() else []) == before  # no partial or orphaned blob file
    assert Attachment.select().count() == 0 and EventRecord.select().count() == events

    filler.unlink()
    assert upload(client, page, item.materials[0].key).status_code == 302
    assert Attachment.select().count() == 1


def test_filing_on_a_full_disk_answers_507_json_and_files_once_space_is_freed(client, disk):
    csrf = client.get("/api/v1/csrf").json["token"]
    events = EventRecord.select().count()
    db.close()
    settle_wal(disk / "county")
    filler = fill(disk)

    refused = client.post("/api/v1/applications", json=intake(an_item()), headers={"X-CSRFToken": csrf})
    assert refused.status_code == 507
    assert refused.json["error"] == "disk_full" and "磁盘已满" in refused.json["message"]
    assert refused.json["needed_bytes"] > refused.json["free_bytes"]
    assert Application.select().count() == 0 and EventRecord.select().count() == events  # no half transaction

    filler.unlink()
    created = client.post("/api/v1/applications", json=intake(an_item()), headers={"X-CSRFToken": csrf})
    assert created.status_code == 201 and Application.select().count() == 1


def test_importing_a_bundle_on_a_full_disk_prints_one_chinese_line_and_exits_2(dirs, disk, capsys):
    number = file(open_node(NodeConfig(dirs / "village")))
    db.close()
    assert onetrip(capsys, "export", "--data", dirs / "village", "--to", dirs / "up.otb")[0] == 0
    county = disk / "county"
    shutil.copytree(dirs / "county", county)
    settle_wal(county)
    held = rows(county, "SELECT count(*) FROM event")
    filler = fill(disk)

    code, out = onetrip(capsys, "import", "--data", county, dirs / "up.otb", "--out", dirs / "back.otb")
    assert code == 2, out
    assert len(out.strip().splitlines()) == 1 and "磁盘已满" in out and "Traceback" not in out
    assert rows(county, "SELECT count(*) FROM event") == held and not (dirs / "back.otb").exists()

    filler.unlink()
    code, out = onetrip(capsys, "import", "--data", county, dirs / "up.otb", "--out", dirs / "back.otb")
    assert code == 0, out
    assert rows(county, f"SELECT count(*) FROM application WHERE number = '{number}'") == [(1,)]


def test_exporting_to_a_full_stick_prints_one_chinese_line_and_leaves_no_file(dirs, disk, capsys):
    file(open_node(NodeConfig(dirs / "village")))
    db.close()
    filler = fill(disk)

    code, out = onetrip(capsys, "export", "--data", dirs / "village", "--to", disk / "up.otb")
    assert code == 2 and len(out.strip().splitlines()) == 1 and "磁盘已满" in out, out
    assert sorted(p.name for p in disk.iterdir()) == ["filler"]  # no bundle, whole or partial

    filler.unlink()
    assert onetrip(capsys, "export", "--data", dirs / "village", "--to", disk / "up.otb")[0] == 0


class FullDiskTransport:
    """A round whose answers cannot be kept: what a station with a full disk meets in the middle of a pull."""

    def __init__(self, where):
        self.where = where

    def post(self, path: str, headers: dict[str, str], body: bytes) -> bytes:
        raise DiskFull(self.where, len(body))


def test_a_full_disk_met_in_a_sync_round_is_recorded_in_words_for_the_home_page(county_node):
    with pytest.raises(DiskFull):
        upstream.sync_once(county_node, transport=FullDiskTransport(county_node.config.data_dir))
    assert "磁盘已满" in status.link_status(county_node).last_error
