"""A verified release installed beside the running one, and the switch: stop, keep a copy of the database,
point the environment link at the new release, migrate, start, and check /healthz answers from the new
version; if anything fails, put the database and the link back and start the previous version.

The environments are install.sh's (installers/files/install.sh: PREFIX/venvs/<release>, PREFIX/venv the link
the service runs): staging and switching call that script from the verified archive, so a node upgrades by
the same steps as a PC installed by hand or by the Debian package.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

from node.releases.errors import UpdateRefused

HEALTH_WITHIN_S = 60  # an old PC starts a node in a few seconds; a migration has already run by then


@dataclass(frozen=True)
class Staged:
    version: str
    release: str
    folder: Path  # the unpacked archive, whose install.sh switches


def stage(archive: Path, prefix: Path, work: Path, *, python: str) -> Staged:
    """Unpack the verified archive into `work` and build its environment (install.sh --stage-only) while the
    running node keeps serving."""
    from node.releases.repository import read_manifest

    manifest = read_manifest(archive)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(work, filter="data")  # no links out, no devices, no absolute paths
    (folder,) = [path for path in work.iterdir() if path.is_dir()]
    _install_sh(folder, "--stage-only", prefix=prefix, python=python)
    return Staged(manifest["version"], manifest["release"], folder)


@dataclass(frozen=True)
class Outcome:
    switched: bool
    running: str  # the environment link's target after the switch or the rollback
    message: str


def switch(
    staged: Staged,
    prefix: Path,
    data_dir: Path,
    *,
    stop: Callable[[], None],
    start: Callable[[], None],
    healthy: Callable[[str | None], bool],
) -> Outcome:
    """Switch to `staged`; back to the previous environment, database included, if the new one fails to
    migrate or to answer /healthz as its version (`healthy(None)`: answers at all, after a rollback). `stop` and
    `start` drive the service (systemd on a PC)."""
    link = prefix / "venv"
    previous = os.readlink(link) if link.is_symlink() else None
    stop()
    backup = _keep_database(data_dir, staged.release)
    try:
        _install_sh(staged.folder, "--switch-only", prefix=prefix)
        problem = _migrate(prefix, data_dir)
    except UpdateRefused as exc:
        problem = str(exc)
    if problem is None:
        start()
        if healthy(staged.version):
            return Outcome(True, os.readlink(link), f"已切换到 {staged.version}，运行正常")
        problem = f"新版本 {staged.version} 启动后健康检查未通过"
        stop()
    _restore_database(data_dir, backup)
    _point(link, previous)
    start()
    if not healthy(None):
        return Outcome(False, previous or "", f"{problem}；已回退，但原来的版本也没有响应，请人工检查")
    return Outcome(False, previous or "", f"{problem}；已回退到原来的版本")


def answers_as(
    url: str, within_s: float = HEALTH_WITHIN_S, alive: Callable[[], bool] = lambda: True
) -> Callable[[str | None], bool]:
    """A health check: /healthz at `url` says ok, from the given version, within the time; given to give up
    at once when the process is known to have died (`alive`)."""

    def healthy(version: str | None) -> bool:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline and alive():
            try:
                answer = requests.get(f"{url}/healthz", timeout=2)
                if answer.ok and version in (None, answer.json().get("version")):
                    return True
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.3)
        return False

    return healthy


def _install_sh(folder: Path, mode: str, *, prefix: Path, python: str | None = None) -> None:
    command = ["sh", str(folder / "install.sh"), mode, "--prefix", str(prefix)]
    done = subprocess.run(command + (["--python", python] if python else []), capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["（无输出）"])[-1]
        raise UpdateRefused("install_failed", f"安装新版本没有成功：{last}")


def _migrate(prefix: Path, data_dir: Path) -> str | None:
    done = subprocess.run(
        [str(prefix / "venv" / "bin" / "onetrip"), "migrate", "--data", str(data_dir)], capture_output=True, text=True
    )
    return None if done.returncode == 0 else f"新版本的数据库迁移失败：{done.stderr.strip()[-200:]}"


def _keep_database(data_dir: Path, release: str) -> Path | None:
    """A station's SQLite database as it was before the migration (SQLite's online backup). A hub on
    PostgreSQL is backed up by pg_dump before its switch (docs/operations.md)."""
    database = data_dir / "onetrip.db"
    if not database.exists():
        return None
    copy = data_dir / "releases" / f"before-{release}.db"
    copy.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(database) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    return copy


def _restore_database(data_dir: Path, backup: Path | None) -> None:
    if backup is None:
        return
    database = data_dir / "onetrip.db"
    for extra in ("-wal", "-shm"):
        database.with_name(database.name + extra).unlink(missing_ok=True)
    os.replace(backup, database)


def _point(link: Path, target: str | None) -> None:
    """The environment link back where it was, by one rename; none if there was none."""
    if target is None:
        link.unlink(missing_ok=True)
        return
    fresh = link.with_name("venv.new")
    fresh.unlink(missing_ok=True)
    fresh.symlink_to(target)
    os.replace(fresh, link)
