"""A verified release installed beside the running one, and the switch: stop, keep a copy of the database (a
station's SQLite file, a hub's PostgreSQL dump), point the environment link at the new release, migrate, start,
and check /healthz answers from the new version; if anything fails, put the database and the link back and
start the previous version.

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
    database: str = "",
) -> Outcome:
    """Switch to `staged`; back to the previous environment, database included, if the new one fails to
    migrate or to answer /healthz as its version (`healthy(None)`: answers at all, after a rollback). `stop` and
    `start` drive the service (systemd on a PC). `database` is the node's URL when it is not SQLite in its data
    dir: a hub on PostgreSQL is dumped first, and not switched at all if the dump fails."""
    link = prefix / "venv"
    previous = os.readlink(link) if link.is_symlink() else None
    stop()
    try:
        backup = _keep_database(data_dir, staged.release, database)
    except UpdateRefused as exc:
        start()
        return Outcome(False, previous or "", f"{exc}；没有切换，原来的版本照常运行")
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
    try:
        _restore_database(data_dir, backup, database)
    except UpdateRefused as exc:
        problem = f"{problem}；{exc}，请用 {backup} 按运维手册手工恢复数据库"
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


def _keep_database(data_dir: Path, release: str, database: str = "") -> Path | None:
    """The database as it was before the migration: a station's SQLite file by SQLite's online backup, a hub's
    PostgreSQL database by pg_dump (custom format), beside the releases, readable by the node's user alone."""
    if database.startswith(("postgresql://", "postgres://")):
        dump = data_dir / "releases" / f"before-{release}.dump"
        dump.parent.mkdir(parents=True, exist_ok=True)
        _postgres("pg_dump", "--format=custom", f"--file={dump}", f"--dbname={database}")
        dump.chmod(0o600)
        return dump
    sqlite = data_dir / "onetrip.db"
    if not sqlite.exists():
        return None
    copy = data_dir / "releases" / f"before-{release}.db"
    copy.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(sqlite) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    return copy


def _restore_database(data_dir: Path, backup: Path | None, database: str = "") -> None:
    if backup is None:
        return
    if backup.suffix == ".dump":  # the whole database as dumped, in one transaction
        _postgres("pg_restore", "--clean", "--if-exists", "--single-transaction", f"--dbname={database}", str(backup))
        return
    sqlite = data_dir / "onetrip.db"
    for extra in ("-wal", "-shm"):
        sqlite.with_name(sqlite.name + extra).unlink(missing_ok=True)
    os.replace(backup, sqlite)


def _postgres(program: str, *args: str) -> None:
    """PostgreSQL's own dump and restore programs (the postgresql-client package, of the server's major
    version or newer); a failure is `UpdateRefused` with their last words."""
    try:
        done = subprocess.run([program, *args], capture_output=True, text=True, timeout=3600)
    except FileNotFoundError:
        raise UpdateRefused("backup_failed", f"本机没有 {program}：请安装 postgresql-client 后再切换") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["（无输出）"])[-1]
        action = "备份数据库" if program == "pg_dump" else "恢复数据库"
        raise UpdateRefused("backup_failed", f"切换前{action}没有成功（{program}：{last}）")


def _point(link: Path, target: str | None) -> None:
    """The environment link back where it was, by one rename; none if there was none."""
    if target is None:
        link.unlink(missing_ok=True)
        return
    fresh = link.with_name("venv.new")
    fresh.unlink(missing_ok=True)
    fresh.symlink_to(target)
    os.replace(fresh, link)
