"""A small filesystem that fills: a tmpfs of a few MB mounted for one test, and a filler that leaves it
almost no room. Outside CI a machine that cannot mount skips; in CI that is a failure."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def small_disk(where: Path, size_mb: int) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(where)], capture_output=True
    )
    if mounted.returncode != 0:
        reason = f"cannot mount a small tmpfs here: {mounted.stderr.decode(errors='replace').strip()}"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI must run the disk-full tests)")
        pytest.skip(f"{reason} (outside CI only)")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def fill(disk: Path, leave_bytes: int = 0) -> Path:
    """Take all the disk's free space but `leave_bytes`; delete the returned file to free it again."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as out:
        while (free := shutil.disk_usage(disk).free - leave_bytes) > 0:
            try:
                out.write(b"\0" * min(free, 1 << 20))
            except OSError:  # the last page: the disk is full
                break
    return filler
