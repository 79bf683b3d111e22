"""The release path on files: the city's key ceremony with python-tuf's Metadata API, a county mirroring it,
a village verifying and taking what it is meant to, and each attack TUF guards against refused in words."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata

from app import main
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
    refresh_timestamp,
    rotate_root,
    sign_staged,
)

NOW = dt.datetime.now(dt.UTC)
COUNTY, VILLAGE = "511302", "511302001001"


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """Three root holders (two must sign), two targets holders (both must sign), the city hub's online key;
    then the keys rotations bring in (root-d, root-e, tgt-c, online-2)."""
    folder = tmp_path_factory.mktemp("sticks")
    names = ("root-a", "root-b", "root-c", "tgt-a", "tgt-b", "online", "root-d", "root-e", "tgt-c", "online-2")
    return {name: generate_key(folder / name, name) for name in names}


def sign(repo: Repository, role: str, keys, *names: str) -> None:
    for name in names:
        sign_staged(repo, role, load_signer(keys[name][0]))


def keyid(keys, name: str) -> str:
    return load_public(keys[name][1]).keyid


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
        sign(repo, "root", keys, "root-a", "root-c")
    add_release(repo, archive, now, **pins)
    sign(repo, "targets", keys, "tgt-a", "tgt-b")
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


# ---- rotating the root ------------------------------------------------------------------------------------


def trusted_root(place: client.Place):
    return Metadata.from_file(str(place.folder / "trusted" / "root.json")).signed


def test_a_root_rotated_by_two_old_and_two_new_holders_reaches_a_village_through_a_mirror(tmp_path, keys, city, capsys):
    """root-b leaves, root-d comes: v2 needs two of the old root's a, b, c and two of its own a, c, d."""
    county = node(tmp_path, "county", COUNTY, "county", city)
    village = node(tmp_path, "village", VILLAGE, "village", city)
    client.check(county, city.folder)
    rotate = ["releases", "rotate", "--repo", str(city.folder), "--revoke-key", f"root={keys['root-b'][1]}"]
    assert main([*rotate, "--add-key", f"root={keys['root-d'][1]}"]) == 0
    assert "已生成 root v2" in capsys.readouterr().out
    sign(city, "root", keys, "root-b", "root-c")  # root-b counts for the old root only
    with pytest.raises(ReleaseRefused, match="root v2 有 2/2 个旧根 v1 持钥人的签名、1/2 个新根 v2 持钥人的签名"):
        publish(city, load_signer(keys["online"][0]), NOW)
    sign(city, "root", keys, "root-d")
    assert main(["releases", "status", "--repo", str(city.folder)]) == 0
    assert capsys.readouterr().out == "待签：root v2，2/2 个旧根 v1 持钥人的签名、2/2 个新根 v2 持钥人的签名\n"
    assert publish(city, load_signer(keys["online"][0]), NOW) == ["root v2"]
    client.check(county, city.folder)
    assert client.check(village, county.folder).offer.version == "0.1.1"
    root = trusted_root(village)
    assert root.version == 2 and set(root.roles["root"].keyids) == {
        keyid(keys, n) for n in ("root-a", "root-c", "root-d")
    }


def test_a_village_trusting_the_first_root_walks_the_whole_chain_through_its_township_or_a_stick(tmp_path, keys, city):
    """Two rotations while the township and the village were away: each hub's mirror keeps every root it
    walked, not only the newest, or the village would stop at the first root it cannot follow."""
    county = node(tmp_path, "county", COUNTY, "county", city)
    township = node(tmp_path, "township", VILLAGE[:9], "township", city)
    for leaving, coming, staying in (("root-b", "root-d", "root-c"), ("root-c", "root-e", "root-d")):
        rotate_root(city, NOW, revoke=[("root", keyid(keys, leaving))], add=[("root", load_public(keys[coming][1]))])
        sign(city, "root", keys, "root-a", staying)  # both in the old root and in the new
        publish(city, load_signer(keys["online"][0]), NOW)
        client.check(county, city.folder)
    client.check(township, county.folder)
    village = node(tmp_path, "village", VILLAGE, "village", city)
    client.check(village, township.folder)
    assert trusted_root(township).version == trusted_root(village).version == 3
    stick = tmp_path / "stick"
    assert main(["update", "mirror-to", "--data", str(township.data_dir), "--to", str(stick)]) == 0
    assert sorted(path.name for path in (stick / "metadata").glob("*.root.json")) == [
        "1.root.json",
        "2.root.json",
        "3.root.json",
    ]
    offline = node(tmp_path, "offline", VILLAGE[:9] + "002", "village", city)
    client.check(offline, stick)
    assert trusted_root(offline).version == 3


def test_a_new_root_without_a_threshold_of_the_old_root_is_refused_by_publish_and_by_nodes(tmp_path, keys, city):
    village = node(tmp_path, "village", VILLAGE, "village", city)
    client.check(village, city.folder)
    rotate_root(
        city,
        NOW,
        revoke=[("root", keyid(keys, name)) for name in ("root-a", "root-b")],
        add=[("root", load_public(keys[name][1])) for name in ("root-d", "root-e")],
    )
    sign(city, "root", keys, "root-d", "root-e")  # the new keys only
    with pytest.raises(ReleaseRefused, match="0/2 个旧根 v1 持钥人的签名、2/2 个新根 v2 持钥人的签名"):
        publish(city, load_signer(keys["online"][0]), NOW)
    assert city.published("root").signed.version == 1
    shutil.copy(city.staged / "root.json", city.metadata / "2.root.json")  # behind publish's back
    error = refused(village, city.folder)
    assert error.reason == "untrusted_root" and "上一版根或它自己的持钥人签名不够门限" in str(error)
    assert trusted_root(village).version == 1


def test_a_rotated_online_key_signs_the_next_timestamp_and_the_revoked_one_is_refused(tmp_path, keys, city):
    village = node(tmp_path, "village", VILLAGE, "village", city)
    client.check(village, city.folder)
    old, new = load_signer(keys["online"][0]), load_signer(keys["online-2"][0])
    rotate_root(
        city, NOW, revoke=[("timestamp", keyid(keys, "online"))], add=[("snapshot", load_public(keys["online-2"][1]))]
    )
    staged = city.staged_role("root").signed
    assert staged.roles["snapshot"].keyids == staged.roles["timestamp"].keyids == [keyid(keys, "online-2")]
    sign(city, "root", keys, "root-a", "root-b")
    with pytest.raises(ReleaseRefused, match="不是根元数据 v2 中快照和时间戳的在线密钥"):
        publish(city, old, NOW)
    assert city.published("root").signed.version == 1 and city.staged_role("root") is not None  # nothing moved
    publish(city, new, NOW)
    client.check(village, city.folder)
    timestamp = Metadata.from_file(str(village.folder / "trusted" / "timestamp.json"))
    assert list(timestamp.signatures) == [keyid(keys, "online-2")]
    with pytest.raises(ReleaseRefused, match="在线密钥轮换后请用新的在线密钥"):
        refresh_timestamp(city, old, NOW, force=True)
    forged = city.published("timestamp")  # what the city would publish next, but by the revoked key
    forged.signed.version += 1
    forged.sign(old)
    forged.to_file(str(city.metadata / "timestamp.json"))
    assert refused(village, city.folder).reason == "tampered_metadata"


def test_targets_is_staged_again_for_the_new_targets_holders_once_the_old_signatures_fall_short(tmp_path, keys, city):
    """Adding a targets key leaves the published targets valid; revoking one of its two signers does not. A
    staged root is amended, not stacked (it stays v2), and takes the expiry of its last change."""
    village = node(tmp_path, "village", VILLAGE, "village", city)
    assert rotate_root(city, NOW, add=[("targets", load_public(keys["tgt-c"][1]))]) == ["root v2"]  # a, b still 2/2
    later = NOW + dt.timedelta(days=200)
    assert rotate_root(city, later, revoke=[("targets", keyid(keys, "tgt-b"))]) == ["root v2", "targets v2"]
    assert city.staged_role("root").signed.expires == (later + dt.timedelta(days=365)).replace(microsecond=0)
    sign(city, "root", keys, "root-a", "root-b")
    with pytest.raises(ReleaseRefused, match="targets v2 有 0/2 个签名"):
        publish(city, load_signer(keys["online"][0]), NOW)
    with pytest.raises(ReleaseRefused, match="不是 targets 的签署密钥"):
        sign(city, "targets", keys, "tgt-b")
    sign(city, "targets", keys, "tgt-a", "tgt-c")
    assert publish(city, load_signer(keys["online"][0]), NOW) == ["root v2", "targets v2"]
    assert client.check(village, city.folder).offer.version == "0.1.1"
    assert trusted_root(village).version == 2


@pytest.mark.parametrize(
    ("options", "refusal"),
    [
        pytest.param(
            lambda keys: [
                "--revoke-key",
                f"root={keys['root-a'][1]}",
                "--revoke-key",
                f"root={keys['root-b'][1]}",
            ],
            "root 有 1 把密钥，少于门限 2",
            id="fewer-keys-than-threshold",
        ),
        pytest.param(
            lambda keys: ["--threshold", "targets=3"], "targets 有 2 把密钥，少于门限 3", id="threshold-above-keys"
        ),
        pytest.param(
            lambda keys: ["--threshold", "targets=0"], "targets 的门限 0 不能小于 1", id="threshold-below-one"
        ),
        pytest.param(
            lambda keys: ["--threshold", "timestamp=2"],
            "timestamp 由一把在线密钥签名，门限只能是 1",
            id="online-threshold",
        ),
        pytest.param(
            lambda keys: ["--add-key", f"mirror={keys['root-d'][1]}"],
            "不认识的角色 mirror：只能是 root、targets、snapshot、timestamp",
            id="unknown-role",
        ),
        pytest.param(
            lambda keys: ["--add-key", f"root={keys['root-d'][0]}"],
            "不是 onetrip releases keygen 写出的公钥文件",
            id="private-key-file",
        ),
        pytest.param(
            lambda keys: ["--revoke-key", f"targets={keyid(keys, 'root-a')}"],
            "targets 没有这把密钥",
            id="revoke-a-key-not-there",
        ),
        pytest.param(
            lambda keys: ["--add-key", f"root={keys['online'][1]}"],
            "在线密钥（快照、时间戳）不能同时是离线的根或目标密钥",
            id="online-key-offline",
        ),
        pytest.param(lambda keys: ["--add-key", "root"], "应写成 角色=值", id="no-value"),
    ],
)
def test_a_rotation_that_would_leave_an_unusable_root_is_refused_and_stages_nothing(
    city, keys, capsys, options, refusal
):
    assert main(["releases", "rotate", "--repo", str(city.folder), *options(keys)]) == 2
    assert refusal in capsys.readouterr().err
    assert city.staged_role("root") is None and city.published("root").signed.version == 1


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
