"""The Debian package: the staged release under /opt/onetrip, the systemd units (the node, and the timer that
switches to a release staged in the background at night), /usr/bin/onetrip, and the maintainer scripts that
make the onetrip user, its data dir and the environment (files/postinst)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from installers import BuildError
from installers.archive import FILES
from installers.wheelhouse import PYTHON, Target

HOME = "opt/onetrip"
UNITS = ("onetrip.service", "onetrip-switch.service", "onetrip-switch.timer")  # the node; the nightly switch
# python3.11-venv brings ensurepip (Debian splits it out); passwd has useradd, util-linux setpriv.
DEPENDS = f"python{PYTHON}, python{PYTHON}-venv, passwd, util-linux"
DESCRIPTION = """\
OneTrip 一趟办: offline-first government services for village stations
 A node of OneTrip (village station, township centre, county or city hub),
 installed with every dependency from the package itself: no network needed.
 Runs as the service onetrip.service, user onetrip, data in /var/lib/onetrip,
 logs in the journal."""


def build_deb(release: Path, out: Path, *, version: str, target: Target) -> Path:
    """dpkg-deb over a tree laid out in a scratch folder beside `out`; files are root's in the package."""
    deb = out / f"onetrip_{version}_{target.deb_arch}.deb"
    tree = out / f".deb-{target.deb_arch}"
    shutil.rmtree(tree, ignore_errors=True)
    shutil.copytree(release, tree / HOME)
    units = tree / "lib/systemd/system"
    units.mkdir(parents=True)
    for unit in UNITS:
        shutil.copy(FILES / unit, units / unit)
    (tree / "usr/bin").mkdir(parents=True)
    os.symlink(f"../../{HOME}/venv/bin/onetrip", tree / "usr/bin/onetrip")  # relative: right under any root
    control = tree / "DEBIAN"
    control.mkdir()
    for script in ("postinst", "prerm", "postrm"):
        shutil.copy(FILES / script, control / script)
        (control / script).chmod(0o755)
    (control / "control").write_text(_control(version, target, _installed_kib(tree)))
    done = subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(tree), str(deb)],
        capture_output=True,
        text=True,
    )
    shutil.rmtree(tree)
    if done.returncode != 0:
        raise BuildError(f"dpkg-deb failed:\n{done.stderr.strip()}")
    return deb


def _control(version: str, target: Target, installed_kib: int) -> str:
    fields = {
        "Package": "onetrip",
        "Version": version,
        "Architecture": target.deb_arch,
        "Maintainer": "OneTrip maintainers <onetrip@localhost>",
        "Depends": DEPENDS,
        "Section": "net",
        "Priority": "optional",
        "Installed-Size": str(installed_kib),
        "Description": DESCRIPTION,
    }
    return "".join(f"{key}: {value}\n" for key, value in fields.items())


def _installed_kib(tree: Path) -> int:
    """The package's files and the environment postinst builds from its wheels, about 4.5 times their size."""
    files = sum(path.stat().st_size for path in tree.rglob("*") if path.is_file() and not path.is_symlink())
    return 11 * files // 2 // 1024
