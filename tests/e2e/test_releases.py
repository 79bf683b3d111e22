"""Issue 17, over real servers: the city publishes a release, the county and the township mirror it, a village
takes it over HTTP through a line that cuts (resuming) and another from a USB stick, both switch to it;
then a release that cannot start is given to the first village's ring, and it rolls back."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from app import main
from harness.flaky import FlakyProxy
from harness.releases import fake_release
from harness.servers import ROOT, free_port
from node.fleet import overview
from node.releases import client, staging
from node.releases.background import stage_checked, staged_release, switch_staged
from node.releases.errors import UpdateUnavailable
from node.releases.repository import (
    Repository,
    add_release,
    generate_key,
    init_repository,
    load_public,
    load_signer,
    publish,
    sign_staged,
)
from provisioning.identity import load_identity

pytestmark = pytest.mark.e2e


class StationPC:
    """A village PC's service as systemd runs it: PREFIX/venv/bin/onetrip serve, or, before the first
    release is installed there, this tree's program."""

    def __init__(self, prefix: Path, data: Path, port: int):
        self.prefix, self.data, self.port = prefix, data, port
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        installed = self.prefix / "venv" / "bin" / "onetrip"
        program = [str(installed)] if installed.exists() else [sys.executable, str(ROOT / "app.py")]
        settings = {"ONETRIP_PORT": str(self.port), "ONETRIP_SYNC_INTERVAL_S": "3600"}
        self.process = subprocess.Popen(
            [*program, "serve", "--data", str(self.data)],
            cwd=ROOT,
            env={**os.environ, **settings},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=20)

    def switch(self, staged: staging.Staged) -> staging.Outcome:
        alive = lambda: self.process is not None and self.process.poll() is None  # noqa: E731
        healthy = staging.answers_as(self.url, within_s=30, alive=alive)
        return switch_staged(
            place_of(self.data), staged, self.prefix, stop=self.stop, start=self.start, healthy=healthy
        )

    def version(self) -> str:
        return requests.get(f"{self.url}/healthz", timeout=5).json()["version"]


def place_of(data: Path) -> client.Place:
    identity, _ = load_identity(data)
    return client.Place(data, identity.station, identity.region, identity.level)


def city_publishes(repo: Repository, keys, archive: Path, **pins) -> None:
    add_release(repo, archive, client_now(), **pins)
    sign_staged(repo, "targets", load_signer(keys["targets"][0]))
    publish(repo, load_signer(keys["online"][0]), client_now())


def client_now():
    import datetime as dt

    return dt.datetime.now(dt.UTC)


def hubs_mirror(cluster) -> None:
    for level in ("county", "township"):
        assert main(["update", "check", "--data", str(cluster.configs[level].data_dir)]) == 0


def test_a_release_travels_down_the_tree_to_two_villages_and_a_failing_one_rolls_back(
    cluster, tmp_path, monkeypatch, capsys
):
    village_a = cluster.configs["village"].data_dir
    village_b = tmp_path / "village-b"  # a second station PC, as it stood before any release
    shutil.copytree(village_a, village_b)

    # The city: a key ceremony (one holder per role here; thresholds are tested on files) and release N+1.
    keys = {name: generate_key(tmp_path / "sticks" / name, name) for name in ("root", "targets", "online")}
    repo = Repository(cluster.configs["city"].data_dir / "releases")
    init_repository(
        repo,
        root_keys=[load_public(keys["root"][1])],
        root_threshold=1,
        targets_keys=[load_public(keys["targets"][1])],
        targets_threshold=1,
        online_key=load_public(keys["online"][1]),
        now=client_now(),
    )
    sign_staged(repo, "root", load_signer(keys["root"][0]))
    good = fake_release(tmp_path / "dist", "0.1.1", padding_bytes=300_000)
    city_publishes(repo, keys, good)
    root = repo.metadata / "1.root.json"

    # The county mirrors the city, the township the county, each over HTTP, each verifying.
    for level in ("county", "township"):
        assert main(["update", "trust", "--data", str(cluster.configs[level].data_dir), "--root", str(root)]) == 0
    hubs_mirror(cluster)
    township = f"http://127.0.0.1:{cluster.configs['township'].port}"
    assert requests.get(f"{township}/releases/metadata/timestamp.json", timeout=5).ok

    # Village A over a line that cuts: each try resumes the archive where the last stopped.
    place = place_of(village_a)
    client.trust_root(place, root.read_bytes())
    line = FlakyProxy(cluster.configs["township"].port, cuts=6, max_bytes=120_000, seed=3)
    received, tries = 0, 0
    while tries < 10:
        tries += 1
        try:
            checked = client.check(place, f"http://127.0.0.1:{line.port}", retry_pause_s=0.05)
            break
        except UpdateUnavailable:  # the scheduler's next run, sooner
            received += client.read_state(village_a)["received_bytes"]
    received += checked.received_bytes
    line.close()
    assert checked.offer.version == "0.1.1" and line.cut >= 3
    with capsys.disabled():  # the closing note's figure
        print(
            f"\nvillage over a cutting line: {tries} tries, {line.cut} cuts, {received} bytes for a {good.stat().st_size}-byte archive",
            end=" ",
        )
    assert received < good.stat().st_size * 1.3  # resumed, never started over

    pc_a = StationPC(tmp_path / "opt-a", village_a, cluster.configs["village"].port)
    pc_a.start()
    try:
        outcome = pc_a.switch(stage_checked(place, checked, pc_a.prefix))
        assert outcome.switched and pc_a.version() == "0.1.1", outcome.message

        # Village B from a stick: the township's mirror copied to a folder, verified the same way.
        stick = tmp_path / "usb" / "onetrip"
        assert (
            main(["update", "mirror-to", "--data", str(cluster.configs["township"].data_dir), "--to", str(stick)]) == 0
        )
        assert main(["update", "trust", "--data", str(village_b), "--root", str(root)]) == 0
        with monkeypatch.context() as settings:  # this PC's onetrip.toml would say so
            settings.setenv("ONETRIP_UPDATE_PREFIX", str(tmp_path / "opt-b"))
            assert main(["update", "check", "--data", str(village_b), "--from", str(stick)]) == 0
            assert "0.1.1 已装入新环境" in capsys.readouterr().out
            assert main(["update", "check", "--data", str(village_b), "--from", str(stick)]) == 0  # the next hour's
        assert staged_release(place_of(village_b)).version == "0.1.1"  # still waiting for its switch
        pc_b = StationPC(tmp_path / "opt-b", village_b, free_port())
        pc_b.start()
        try:
            outcome = pc_b.switch(staging.Staged(**_staged(village_b)))
            assert outcome.switched and pc_b.version() == "0.1.1", outcome.message
        finally:
            pc_b.stop()

        # Release N+2 cannot start; the city gives it to village A's ring only. A stages it, switches,
        # finds it unhealthy and is back on N+1, database and all.
        broken = fake_release(tmp_path / "dist-next", "0.1.2", healthy=False)
        city_publishes(repo, keys, broken, stations=[place.station])
        hubs_mirror(cluster)
        checked = client.check(place, township)
        assert checked.offer.version == "0.1.2"
        outcome = pc_a.switch(stage_checked(place, checked, pc_a.prefix))
        assert not outcome.switched and "已回退" in outcome.message
        assert pc_a.version() == "0.1.1"
        assert os.readlink(pc_a.prefix / "venv").startswith("venvs/0.1.1-")
    finally:
        pc_a.stop()

    # The fleet page: the village's update state travels up with its next rounds, the township relaying it.
    assert cluster.sync("village") == 0 and cluster.sync("township") == 0
    county = cluster.open("county")
    rows, _ = overview.overview(county, page=1, per_page=100)
    (row,) = [row for row in rows if row.station == place.station]
    assert row.update_state == "切换失败已回退" and row.version
    assert sum(count for _, count, _ in overview.version_shares(county)) >= 2


def _staged(data: Path) -> dict:
    staged = client.read_state(data)["staged"]
    return {"version": staged["version"], "release": staged["release"], "folder": Path(staged["folder"])}
