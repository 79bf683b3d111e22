"""The wheels of a release: OneTrip's own, built from this tree, and every runtime dependency's for one target
platform, fetched with pip (binary wheels only) and kept in a cache keyed by what was asked for."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from installers import BuildError

PYTHON = "3.11"  # the release's interpreter: cp311 wheels, python3.11 on the target (Debian 12's python3)
# The oldest glibc a release runs on: manylinux_2_28 wheels need 2.28, as in Debian 10 and the systems built on
# it (统信UOS 20) and in 麒麟 V10; every wheel we depend on comes for 2.28 or older.
GLIBC_MAX_MINOR = 28
# What goes into OneTrip's wheel (pyproject.toml's packages and module); tests, harness and bench stay home.
SOURCES = ("app.py", "pyproject.toml", "README.md", "storage", "sync", "provisioning", "node", "web")


@dataclass(frozen=True)
class Target:
    name: str  # in the archive's name, e.g. linux-x86_64
    machine: str  # as in wheel tags: x86_64, aarch64
    deb_arch: str  # Debian's name for it: amd64, arm64

    def pip_platforms(self) -> list[str]:
        """manylinux_2_17 … manylinux_2_28 spelled out: pip takes no range, and widens only the legacy names."""
        minors = range(GLIBC_MAX_MINOR, 16, -1)
        return [f"manylinux_2_{minor}_{self.machine}" for minor in minors] + [f"manylinux2014_{self.machine}"]


TARGETS = {
    "linux-x86_64": Target("linux-x86_64", "x86_64", "amd64"),
    "linux-aarch64": Target("linux-aarch64", "aarch64", "arm64"),
}


LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


def glibc_needed(wheel_names: list[str]) -> str:
    """The oldest glibc every wheel runs on: each wheel's lowest manylinux tag, the highest of those."""
    needed = (2, 5)
    for name in wheel_names:
        floors = []
        for tag in name.removesuffix(".whl").split("-")[-1].split("."):
            legacy = LEGACY_MANYLINUX.get(tag.split("_")[0])
            match = re.match(r"manylinux_(\d+)_(\d+)_", tag)
            floors += [legacy] if legacy else [(int(match[1]), int(match[2]))] if match else []
        needed = max([needed, min(floors)]) if floors else needed
    return f"{needed[0]}.{needed[1]}"


def project(repo: Path) -> dict:
    with (repo / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)


def build_own_wheel(repo: Path, out: Path, build_tools: Path) -> Path:
    """OneTrip's wheel from a clean copy of its sources (setuptools leaves build/ and *.egg-info where it runs),
    built offline with the build backend from `build_tools`."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="onetrip-src-") as scratch:
        source = Path(scratch) / "onetrip"
        source.mkdir()
        for name in SOURCES:
            path = repo / name
            if path.is_dir():
                shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                shutil.copy2(path, source / name)
        _pip("wheel", "--no-deps", "--no-index", "--find-links", str(build_tools), "-w", str(out), str(source))
    version = project(repo)["project"]["version"]
    return next(out.glob(f"onetrip-{version}-*.whl"))


def fetch_build_tools(cache: Path, repo: Path) -> Path:
    """The build backend pyproject.toml names (setuptools), as wheels, fetched once."""
    requires = project(repo)["build-system"]["requires"]
    folder = cache / ("build-tools-" + _key(requires))
    if not (folder / ".complete").exists():
        _fetch(requires, folder, ["--only-binary=:all:"])
    return folder


def runtime_requirements(wheel: Path) -> list[str]:
    """The wheel's Requires-Dist, without the extras (dev tools never reach a station)."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(name).decode()
    lines = [line.removeprefix("Requires-Dist:").strip() for line in metadata.splitlines()]
    wanted = [line.startswith("Requires-Dist:") for line in metadata.splitlines()]
    return [line for line, keep in zip(lines, wanted, strict=True) if keep and "extra ==" not in line]


def fetch_dependencies(requirements: list[str], target: Target, cache: Path) -> Path:
    """Every wheel `requirements` need on `target` (their dependencies included), for CPython PYTHON, binary
    wheels only: nothing is compiled for a platform we cannot test on. Reused while the request is the same."""
    platforms = target.pip_platforms()
    folder = cache / f"{target.name}-cp{PYTHON.replace('.', '')}-{_key([*requirements, *platforms])}"
    if not (folder / ".complete").exists():
        abi = "cp" + PYTHON.replace(".", "")
        options = ["--only-binary=:all:", "--implementation", "cp", "--python-version", PYTHON, "--abi", abi]
        _fetch(requirements, folder, options + [f"--platform={p}" for p in platforms])
    return folder


def _fetch(requirements: list[str], folder: Path, options: list[str]) -> None:
    """Download into a folder of this build's own, renamed into place once complete: two builds sharing a cache
    never see each other's half, and the first to finish is the one kept."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        listing = partial / "requirements.txt"
        listing.write_text("\n".join(requirements) + "\n")
        _pip("download", "--dest", str(partial), *options, "-r", str(listing))
        listing.unlink()
        (partial / ".complete").write_text(json.dumps(requirements) + "\n")
        if folder.exists() and not (folder / ".complete").exists():
            shutil.rmtree(folder, ignore_errors=True)  # an interrupted build's, from before this one
        try:
            partial.rename(folder)
        except OSError:
            if not (folder / ".complete").exists():
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _key(values: list[str]) -> str:
    return hashlib.sha256("\n".join(values).encode()).hexdigest()[:12]


def _pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet", *args]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise BuildError(f"pip {args[0]} failed:\n{done.stderr.strip()[-3000:]}")
