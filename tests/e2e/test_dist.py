"""`make dist`'s release archive and Debian package, built (the wheelhouse cached between runs) and installed
with dpkg into a scratch root with no network; the installed node set up and served, answering /healthz."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from harness.servers import free_port
from installers import BuildError
from installers.__main__ import build, default_cache
from installers.wheelhouse import TARGETS
from node.releases.client import running_version

# Any registry or proxy a step might try is this closed port: the install must need none.
TOWNSHIP = "搬罾街道便民服务中心"
VERSION = running_version()  # this tree's, which the package installs
OFFLINE = {
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "PIP_INDEX_URL": "http://127.0.0.1:9/",
}


def test_the_package_installs_offline_into_a_scratch_root_and_the_installed_node_serves_healthz(tmp_path):
    _require(shutil.which("dpkg") and shutil.which("dpkg-deb"), "dpkg 不可用（不是 Debian 系统）")
    _require(os.geteuid() == 0, "安装到临时根目录需要 root（建用户、改属主）")
    try:
        (built,) = build(tmp_path / "dist", [TARGETS["linux-x86_64"]], cache=default_cache())
    except BuildError as exc:
        _require(False, f"无法取得依赖的轮子（首次构建需要连到软件源）：{exc}")
    _the_archive_holds_every_wheel_its_manifest_lists(built.archive)

    root = Path(tempfile.mkdtemp(prefix="onetrip-root-"))  # not under pytest's 0700 tmp: onetrip must reach it
    try:
        root.chmod(0o755)
        _empty_system(root)
        installed = _dpkg(root, "-i", built.deb)
        assert f"已启用：{root}/opt/onetrip/venv -> venvs/{built.release}" in installed
        user = next(
            line.split(":") for line in (root / "etc/passwd").read_text().splitlines() if line.startswith("onetrip:")
        )
        uid, gid, home, shell = int(user[2]), int(user[3]), user[5], user[6]
        assert uid < 1000 and home == "/var/lib/onetrip" and shell == "/usr/sbin/nologin"
        service_dir = root / "var/lib/onetrip"
        assert (service_dir.stat().st_mode & 0o777, service_dir.stat().st_uid) == (0o700, uid)
        data = service_dir / "node"  # made whole by init, beside its place, as the setup page makes it
        unit = (root / "lib/systemd/system/onetrip.service").read_text()
        assert (
            "User=onetrip" in unit
            and "ExecStart=/opt/onetrip/venv/bin/onetrip serve --data /var/lib/onetrip/node" in unit
        )
        switch = (root / "lib/systemd/system/onetrip-switch.service").read_text()
        assert (
            "ExecStart=/opt/onetrip/venv/bin/onetrip update switch --if-staged --data /var/lib/onetrip/node" in switch
        )
        timer = (root / "lib/systemd/system/onetrip-switch.timer").read_text()
        assert "OnCalendar=*-*-* 02:30:00 Asia/Shanghai" in timer and "Persistent=false" in timer
        if shutil.which("systemctl"):  # enabled offline, started at the next boot
            assert (root / "etc/systemd/system/multi-user.target.wants/onetrip.service").is_symlink()
            assert (root / "etc/systemd/system/timers.target.wants/onetrip-switch.timer").is_symlink()
        if shutil.which("systemd-analyze"):  # the units as systemd reads them, their commands the ones installed
            for name in ("onetrip.service", "onetrip-switch.service", "onetrip-switch.timer"):
                checked = tmp_path / name
                text = (root / "lib/systemd/system" / name).read_text()
                checked.write_text(text.replace("=/opt/onetrip/", f"={root}/opt/onetrip/"))
            verify = subprocess.run(
                [
                    "systemd-analyze",
                    "verify",
                    *(str(tmp_path / n) for n in ("onetrip.service", "onetrip-switch.timer")),
                ],
                capture_output=True,
                text=True,
            )
            assert verify.returncode == 0 and not verify.stderr.strip(), verify.stderr

        as_onetrip = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", str(root / "usr/bin/onetrip")]
        with _serving([*as_onetrip, "serve", "--data", data]) as base:  # as the service first starts: no node yet
            assert requests.get(base + "/healthz", timeout=5).json() == {"status": "ok", "version": VERSION}
            assert "村便民服务代办点" in requests.get(base + "/", timeout=10).text  # the setup page, from the wheel
        init = ["init", "--data", data, "--level", "township", "--name", TOWNSHIP, "--region", "511302001"]
        _run([*as_onetrip, *init])  # as county IT sets up a node on the command line
        with _serving([*as_onetrip, "serve", "--data", data]) as base:
            assert requests.get(base + "/healthz", timeout=5).json() == {"status": "ok", "version": VERSION}
            assert TOWNSHIP in requests.get(base + "/", timeout=10).text

        (upgrade,) = build(tmp_path / "next", [TARGETS["linux-x86_64"]], cache=default_cache())
        assert upgrade.release != built.release, "OneTrip's wheel carries its build time: each build a new release"
        upgraded = _dpkg(root, "-i", upgrade.deb)  # built beside the running environment, switched, migrated
        assert "数据库结构已是最新" in upgraded
        assert sorted(os.listdir(root / "opt/onetrip/venvs")) == sorted([built.release, upgrade.release])
        assert os.readlink(root / "opt/onetrip/venv") == f"venvs/{upgrade.release}"
        assert os.readlink(root / "opt/onetrip/venv.previous") == f"venvs/{built.release}"
        assert "数据仍在 /var/lib/onetrip" in _dpkg(root, "-r", "onetrip")
        assert not (root / "opt/onetrip/venvs").exists() and (data / "identity.json").exists()
    finally:
        shutil.rmtree(root)


def _the_archive_holds_every_wheel_its_manifest_lists(archive: Path) -> None:
    with tarfile.open(archive) as tar:
        top = archive.name.removesuffix(".tar.gz")
        manifest = json.load(tar.extractfile(f"{top}/manifest.json"))
        names = set(tar.getnames())
        assert f"{top}/install.sh" in names and f"{top}/SHA256SUMS" in names
        for wheel in manifest["wheels"]:
            body = tar.extractfile(f"{top}/{wheel['file']}").read()
            assert (len(body), hashlib.sha256(body).hexdigest()) == (wheel["bytes"], wheel["sha256"])
    assert {"onetrip", "flask", "cryptography", "jsonlogic_rs"} <= {wheel["name"] for wheel in manifest["wheels"]}
    assert manifest["python"] == "3.11" and tuple(map(int, manifest["glibc"].split("."))) <= (2, 28)
    assert len(names) == len(manifest["wheels"]) + 5  # the folder, wheels/, install.sh, manifest, sums: nothing else


def _empty_system(root: Path) -> None:
    """Just what dpkg and useradd need under `root`: an empty package database and the root account."""
    for folder in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "etc"):
        (root / folder).mkdir(parents=True)
    for name, text in {
        "var/lib/dpkg/status": "",
        "var/lib/dpkg/available": "",
        "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
        "etc/group": "root:x:0:\n",
        "etc/shadow": "root:*:20000:0:99999:7:::\n",
        "etc/gshadow": "root:*::\n",
    }.items():
        (root / name).write_text(text)


def _dpkg(root: Path, *args) -> str:
    """dpkg on the scratch root, its maintainer scripts run outside a chroot with DPKG_ROOT set. Its dependencies
    (python3.11 and the rest) are the host's, not the root's: --force-depends."""
    command = ["dpkg", f"--root={root}", "--force-script-chrootless", "--force-depends", "--log=/dev/null", *args]
    return _run(command)


def _run(command: list) -> str:
    done = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, env={**os.environ, **OFFLINE}, timeout=300
    )
    assert done.returncode == 0, f"{command[0]} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


@contextmanager
def _serving(command: list) -> Iterator[str]:
    """`onetrip serve` on a free port, offline; its base URL once /healthz answers; its log checked at the end."""
    port = free_port()
    server = subprocess.Popen(
        [*map(str, command), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **OFFLINE},
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not _answers(base + "/healthz"):
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the installed node did not answer /healthz:\n{_stop(server)}")
            time.sleep(0.2)
        yield base
    finally:
        log = _stop(server)
    assert "ts=" in log and "Traceback" not in log, log


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.ConnectionError:
        return False


def _stop(server: subprocess.Popen) -> str:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
    return server.communicate(timeout=30)[0]


def _require(condition, reason: str) -> None:
    """What this test needs and the machine lacks: a failure in CI, a skip elsewhere."""
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)
