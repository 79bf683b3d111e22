"""A release, staged and packed: the wheels, a manifest (name, version, size and SHA-256 of each), SHA256SUMS
for `sha256sum --check`, and install.sh, which builds a fresh environment from them with no network."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import tarfile
from pathlib import Path

from installers.wheelhouse import PYTHON, Target, glibc_needed

FILES = Path(__file__).parent / "files"


def stage_release(wheels: list[Path], folder: Path, *, version: str, target: Target) -> str:
    """Lay the release out in `folder` (install.sh, manifest.json, SHA256SUMS, wheels/); return its release
    name, the version and the first digits of SHA256SUMS' hash, so a rebuilt release never lands on the
    environment that is running."""
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "wheels").mkdir(parents=True)
    entries = []
    for wheel in sorted(wheels, key=lambda path: path.name.lower()):
        shutil.copy2(wheel, folder / "wheels" / wheel.name)
        name, wheel_version = wheel.name.split("-")[:2]
        entries.append(
            {"file": f"wheels/{wheel.name}", "name": name, "version": wheel_version, "bytes": wheel.stat().st_size}
            | {"sha256": _sha256(wheel)}
        )
    sums = "".join(f"{entry['sha256']}  {entry['file']}\n" for entry in entries)
    (folder / "SHA256SUMS").write_text(sums)
    release = f"{version}-{hashlib.sha256(sums.encode()).hexdigest()[:8]}"
    manifest = {"name": "onetrip", "version": version, "release": release, "platform": target.name}
    manifest |= {
        "python": PYTHON,
        "glibc": glibc_needed([wheel.name for wheel in wheels]),
        "wheels": entries,
        "bytes": sum(entry["bytes"] for entry in entries),
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n")
    script = (FILES / "install.sh").read_text()
    script = script.replace("@VERSION@", version).replace("@RELEASE@", release).replace("@PYTHON@", PYTHON)
    (folder / "install.sh").write_text(script)
    (folder / "install.sh").chmod(0o755)
    return release


def pack(folder: Path, archive: Path) -> Path:
    """`folder` as `archive` (.tar.gz) under one top folder named like the archive, every entry root's."""
    top = archive.name.removesuffix(".tar.gz")

    def as_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    # The wheels are zip files already: gzip takes 1% off whatever its level, xz 2% in fifteen times as long.
    with gzip.GzipFile(archive, "wb", compresslevel=6, mtime=0) as raw, tarfile.open(fileobj=raw, mode="w") as tar:
        tar.add(folder, arcname=top, filter=as_root)
    return archive


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
