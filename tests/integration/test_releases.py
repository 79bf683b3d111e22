"""The release path on files: the city's key ceremony with python-tuf's Metadata API, a county mirroring it,
a village verifying and taking what it is meant to, and each attack TUF guards against refused in words."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from harness.releases import fake_release
from node.releases import client, staging
from node.releases.client import running_version
from node.releases.errors import ReleaseRefused, UpdateRefused
from node.releases.repository import (
    Repository,
    add_release,
    generate_key,
    init_repository,
    keys_of,
    load_public,
    load_signer,
    publish,
    sign_staged,
)

NOW = dt.datetime.now(dt.UTC)
COUNTY, VILLAGE = "511302", "511302001001"


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """Three root holders (two must sign), two targets holders (both must sign), the city hub's online key."""
    folder = tmp_path_factory.mktemp("sticks")
    return {
        name: generate_key(folder / name, name) for name in ("root-a", "root-b", "root-c", "tgt-a", "tgt-b", "online")
    }


@pytest.fixture(scope="module")
def archives(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("dist")
    return {"0.1.1": fake_release(folder, "0.1.1"), "0.1.2": fake_release(folder / "next", "0.1.2")}


def ceremony(folder: Path, keys, archive: Path, now: dt.datetime = NOW, **pins) -> Repository:
    repo = Repository(folder)
    if repo.published("root") is None:
        init_repository(
            repo,
            root_keys=keys_of(keys[n][1] for n in ("root-a", "root-b", "root-c")),
            root_threshold=2,
            targets_keys=keys_of(keys[n][1] for n in ("tgt-a", "tgt-b")),
            targets_threshold=2,
            online_key=load_public(keys["online"][1]),
            now=now,
        )
        for name in ("root-a", "root-c"):
            sign_staged(repo, "root", load_signer(keys[name][0]))
    add_release(repo, archive, now, **pins)
    for name in ("tgt-a", "tgt-b"):
        sign_staged(repo, "targets", load_signer(keys[name][0]))
    publish(repo, load_signer(keys["online"][0]), now)
    return repo


def node(tmp_path: Path, name: str, region: str, level: str, repo: Repository) -> client.Place:
    place = client.Place(tmp_path / name, f"S-{name}", region, level)
    client.trust_root(place, (repo.metadata / "1.root.json").read_bytes())
    return place


@pytest.fixture
def city(tmp_path, keys, archives) -> Repository:
    return ceremony(tmp_path / "city" / "releases", keys, archives["0.1.1"])


def test_keys_are_written_owner_only_and_never_overwritten(keys):
    private, public = keys["root-a"]
    assert private.stat().st_mode & 0o777 == 0o600
    assert json.loads(public.read_text())["keytype"] == "ed25519"
    with pytest.raises(ReleaseRefused, match="不覆盖"):
        generate_key(private.parent, "root-a")


def test_nothing_is_published_until_a_threshold_of_holders_signed(tmp_path, keys, archives):
    repo = Repository(tmp_path / "repo")
    init_repository(
        repo,
        root_keys=keys_of(keys[n][1] for n in ("root-a", "root-b", "root-c")),
        root_threshold=2,
        targets_keys=keys_of([keys["tgt-a"][1]]),
        targets_threshold=1,
        online_key=load_public(keys["online"][1]),
        now=NOW,
    )
    with pytest.raises(ReleaseRefused, match="不是 targets 的签署密钥"):
        sign_staged(repo, "targets", load_signer(keys["root-a"][0]))
    sign_staged(repo, "root", load_signer(keys["root-a"][0]))
    sign_staged(repo, "targets", load_signer(keys["tgt-a"][0]))
    with pytest.raises(ReleaseRefused, match="root v1 有 1/2 个签名"):
        publish(repo, load_signer(keys["online"][0]), NOW)
    assert not repo.metadata.exists()
    sign_staged(repo, "root", load_signer(keys["root-b"][0]))
    assert publish(repo, load_signer(keys["online"][0]), NOW) == ["root v1", "targets v1"]


def test_a_county_mirrors_the_release_and_a_village_takes_it_from_the_mirror(tmp_path, city):
    county = node(tmp_path, "county", COUNTY, "county", city)
    assert client.check(county, city.folder).mirrored == 1
    village = node(tmp_path, "village", VILLAGE, "village", city)
    checked = client.check(village, county.folder)
    assert (
        checked.offer.version == "0.1.1"
        and checked.archive.read_bytes() == (city.targets / checked.archive.name).read_bytes()
    )
    assert client.read_state(village.data_dir)["state"] == "downloaded"


def test_a_release_pinned_to_another_county_or_ringed_to_other_stations_is_not_taken(tmp_path, keys, archives, city):
    ceremony(city.folder, keys, archives["0.1.2"], counties=["511303"])
    village = node(tmp_path, "village", VILLAGE, "village", city)
    assert client.check(village, city.folder).offer.version == "0.1.1"
    ceremony(city.folder, keys, archives["0.1.2"], stations=["S-pilot"])
    assert client.check(village, city.folder).offer.version == "0.1.1"
    pilot = client.Place(tmp_path / "pilot", "S-pilot", VILLAGE, "village")
    client.trust_root(pilot, (city.metadata / "1.root.json").read_bytes())
    assert client.check(pilot, city.folder).offer.version == "0.1.2"


def refused(place, source) -> UpdateRefused:
    with pytest.raises(UpdateRefused) as caught:
        client.check(place, source)
    assert client.read_state(place.data_dir)["state"] == "refused"
    return caught.value


def test_a_tampered_release_archive_is_refused_and_not_kept(tmp_path, city):
    village = node(tmp_path, "village", VILLAGE, "village", city)
    (archive,) = city.targets.iterdir()
    data = bytearray(archive.read_bytes())
    data[-10] ^= 1
    archive.write_bytes(bytes(data))
    error = refused(village, city.folder)
    assert str(error) == "发布包与市级签名的校验值不符（被篡改或已损坏），已丢弃，没有安装；请从上级重新获取"
    assert not list((village.folder / "targets").glob("*")) and not list((village.folder / "partial").glob("*"))


def test_tampered_metadata_is_refused(tmp_path, city):
    village = node(tmp_path, "village", VILLAGE, "village", city)
    path = city.metadata / "1.targets.json"
    path.write_text(path.read_text().replace('"length": ', '"length": 1'))  # a bigger archive, unsigned
    assert refused(village, city.folder).reason == "tampered_metadata"


def test_expired_targets_metadata_is_refused(tmp_path, keys, archives):
    long_ago = NOW - dt.timedelta(days=100)
    repo = ceremony(tmp_path / "city", keys, archives["0.1.1"], now=long_ago)
    village = node(tmp_path, "village", VILLAGE, "village", repo)
    publish(repo, load_signer(keys["online"][0]), NOW)  # snapshot and timestamp fresh, targets long expired
    error = refused(village, repo.folder)
    assert error.reason == "expired" and "已过期" in str(error)


def test_a_frozen_mirror_whose_timestamp_has_run_out_is_refused(tmp_path, keys, archives):
    repo = ceremony(tmp_path / "city", keys, archives["0.1.1"], now=NOW - dt.timedelta(days=8))
    village = node(tmp_path, "village", VILLAGE, "village", repo)
    error = refused(village, repo.folder)
    assert error.reason == "frozen" and "冻结" in str(error)


def test_metadata_rolled_back_to_an_older_version_is_refused(tmp_path, keys, archives, city):
    village = node(tmp_path, "village", VILLAGE, "village", city)
    old = tmp_path / "old-mirror"
    shutil.copytree(city.folder, old)
    ceremony(city.folder, keys, archives["0.1.2"])
    assert client.check(village, city.folder).offer.version == "0.1.2"
    error = refused(village, old)  # a mirror serving what the village saw before
    assert error.reason == "rolled_back" and "版本回退" in str(error)


def test_a_root_not_signed_by_its_own_threshold_is_not_trusted(tmp_path, city):
    data = json.loads((city.metadata / "1.root.json").read_text())
    data["signatures"] = data["signatures"][:1]
    with pytest.raises(UpdateRefused, match="签名无效"):
        client.trust_root(client.Place(tmp_path / "v", "S", VILLAGE, "village"), json.dumps(data).encode())


def test_a_hub_serves_its_mirror_openly_with_ranges_and_nothing_outside_it(county_node, city):
    from web import create_app

    client = create_app(node=county_node).test_client()
    releases = county_node.config.data_dir / "releases"
    shutil.copytree(city.folder / "targets", releases / "targets")
    (archive,) = (releases / "targets").iterdir()
    whole = client.get(f"/releases/targets/{archive.name}")
    assert whole.status_code == 200 and whole.data == archive.read_bytes()
    assert "Content-Encoding" not in whole.headers  # a .tar.gz is sent as stored, not as gzip to unpack
    rest = client.get(f"/releases/targets/{archive.name}", headers={"Range": "bytes=100-"})
    assert rest.status_code == 206 and rest.data == archive.read_bytes()[100:]
    for name in ("..%2Fidentity.json", ".hidden", f"{archive.name}.verified"):
        assert client.get(f"/releases/targets/{name}").status_code == 404
    assert client.get("/releases/keys/signing.pem").status_code == 404


def test_healthz_says_which_version_answers(client):
    assert client.get("/healthz").get_json() == {"status": "ok", "version": running_version()}


def test_the_city_hub_re_signs_the_timestamp_once_half_its_week_is_gone(county_template, tmp_path, keys, archives):
    from harness.tree import open_node
    from node.config import NodeConfig
    from node.releases.background import ONLINE_KEY, run_releases

    shutil.copytree(county_template.city.data_dir, tmp_path / "city")
    city_node = open_node(NodeConfig(tmp_path / "city"))
    repo = ceremony(tmp_path / "city" / "releases", keys, archives["0.1.1"], now=NOW - dt.timedelta(days=2))
    shutil.copy(keys["online"][0], repo.folder / ONLINE_KEY)
    run_releases(city_node)
    assert repo.published("timestamp").signed.version == 1  # five days left of seven: not yet
    repo = ceremony(repo.folder, keys, archives["0.1.2"], now=NOW - dt.timedelta(days=4))
    run_releases(city_node)
    timestamp = repo.published("timestamp").signed
    assert timestamp.version == 3 and timestamp.expires > NOW + dt.timedelta(days=6)


def test_a_hub_on_postgresql_is_dumped_before_its_switch_and_restored_on_a_rollback(tmp_path, postgres_url):
    """The switch keeps a hub's PostgreSQL database as it was (pg_dump), 0600, and a rollback puts it back."""
    import psycopg2

    def rows() -> list:
        with psycopg2.connect(postgres_url) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT note FROM switch_probe ORDER BY note")
            return [note for (note,) in cursor.fetchall()]

    with psycopg2.connect(postgres_url) as conn, conn.cursor() as cursor:
        cursor.execute("CREATE TABLE switch_probe (note text)")
        cursor.execute("INSERT INTO switch_probe VALUES ('迁移前')")
    dump = staging._keep_database(tmp_path, "r-next", postgres_url)
    assert dump.exists() and dump.stat().st_mode & 0o777 == 0o600
    with psycopg2.connect(postgres_url) as conn, conn.cursor() as cursor:  # what a failed migration left
        cursor.execute("INSERT INTO switch_probe VALUES ('迁移了一半')")
    staging._restore_database(tmp_path, dump, postgres_url)
    assert rows() == ["迁移前"]


def test_a_hub_whose_database_cannot_be_dumped_is_not_switched_and_keeps_running(tmp_path):
    """No dump, no switch: the service started again as it was, the environment link untouched, and why."""
    prefix = tmp_path / "opt"
    (prefix / "venvs" / "r-now").mkdir(parents=True)
    (prefix / "venv").symlink_to("venvs/r-now")
    calls = []
    outcome = staging.switch(
        staging.Staged("9.9.9", "r-next", tmp_path / "unpacked"),
        prefix,
        tmp_path / "node",
        stop=lambda: calls.append("stop"),
        start=lambda: calls.append("start"),
        healthy=lambda version: True,
        database="postgresql://postgres@127.0.0.1:9/nowhere",  # a closed port
    )
    assert not outcome.switched and calls == ["stop", "start"]
    assert "备份数据库没有成功" in outcome.message and "没有切换" in outcome.message
    assert (prefix / "venv").readlink() == Path("venvs/r-now")
