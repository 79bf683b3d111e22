"""python -m installers [--out dist] [--target linux-x86_64 …] [--cache DIR] [--no-deb]: OneTrip's wheel, the
wheelhouse for each target, the release archive dist/onetrip-<version>-<target>.tar.gz and the Debian package."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from installers import BuildError
from installers.archive import pack, stage_release
from installers.debian import build_deb
from installers.wheelhouse import (
    TARGETS,
    Target,
    build_own_wheel,
    fetch_build_tools,
    fetch_dependencies,
    project,
    runtime_requirements,
)

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Built:
    target: Target
    release: str  # version and content hash, the name of the environment it installs into
    archive: Path
    deb: Path | None


def default_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "onetrip" / "wheelhouses"


def build(out: Path, targets: list[Target], *, cache: Path | None = None, deb: bool = True) -> list[Built]:
    """Build every target's archive (and package). Without `cache`, the newest wheels the requirements allow
    are fetched afresh (pip's own cache saves the bytes); with it, the registries are asked only for what it
    lacks, and a wheelhouse once fetched is reused while pyproject.toml's requirements stay the same."""
    version = project(REPO)["project"]["version"]
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="onetrip-dist-") as scratch:
        cache = cache or Path(scratch) / "wheelhouses"
        own = build_own_wheel(REPO, Path(scratch) / "own", fetch_build_tools(cache, REPO))
        requirements = runtime_requirements(own)
        built = []
        for target in targets:
            wheelhouse = fetch_dependencies(requirements, target, cache)
            staged = Path(scratch) / target.name
            wheels = [own, *sorted(wheelhouse.glob("*.whl"))]
            release = stage_release(wheels, staged, version=version, target=target)
            archive = pack(staged, out / f"onetrip-{version}-{target.name}.tar.gz")
            package = build_deb(staged, out, version=version, target=target) if deb else None
            built.append(Built(target, release, archive, package))
    return built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m installers", description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO / "dist")
    parser.add_argument("--target", action="append", choices=sorted(TARGETS), help="default: every target")
    parser.add_argument("--cache", type=Path, help=f"reuse the wheelhouses kept here, e.g. {default_cache()}")
    parser.add_argument("--no-deb", action="store_true", help="the archives only")
    args = parser.parse_args(argv)
    targets = [TARGETS[name] for name in args.target or sorted(TARGETS)]
    try:
        built = build(args.out, targets, cache=args.cache, deb=not args.no_deb)
    except BuildError as exc:
        print(f"make dist: {exc}", file=sys.stderr)
        return 1
    for item in built:
        for path in filter(None, (item.archive, item.deb)):
            print(f"{path}  {path.stat().st_size / 1e6:.1f} MB  ({item.target.name}, {item.release})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
