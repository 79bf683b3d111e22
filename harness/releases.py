"""A release of the real format (`make dist`'s archive: wheels, manifest, SHA256SUMS, install.sh) whose only
wheel is a few kilobytes: an `onetrip` that runs this tree's program in the environment install.sh builds,
so a switch to it serves a real node, reporting the release's version. `healthy=False` makes one whose
`serve` dies at start, for the rollback."""

from __future__ import annotations

import base64
import hashlib
import os
import sysconfig
import zipfile
from pathlib import Path

from installers.archive import pack, stage_release
from installers.wheelhouse import TARGETS

from .servers import ROOT

SHIM = """import sys

def main():
    if {broken!r} and sys.argv[1:2] == ["serve"]:
        sys.exit("onetrip {version}: this release cannot start")
    # this tree's code and the test environment's libraries, after the release's own site-packages: the
    # release's dist-info says which version runs
    sys.path += [{root!r}, {site!r}]
    import app
    sys.exit(app.main())
"""


def fake_release(folder: Path, version: str, *, healthy: bool = True, padding_bytes: int = 0) -> Path:
    """dist/onetrip-<version>-<platform>.tar.gz, as `make dist` lays it out; `padding_bytes` of random data
    in the wheel give a download something to resume."""
    from node.releases.client import this_platform

    target = TARGETS[this_platform()]
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"onetrip-{version}-py3-none-any.whl"
    shim = SHIM.format(broken=not healthy, version=version, root=str(ROOT), site=sysconfig.get_paths()["purelib"])
    info = f"onetrip-{version}.dist-info"
    files = {
        "onetrip_shim.py": shim,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: onetrip\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: harness\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/entry_points.txt": "[console_scripts]\nonetrip = onetrip_shim:main\n",
    }
    record = "".join(f"{name},sha256={_digest(text.encode())},{len(text.encode())}\n" for name, text in files.items())
    with zipfile.ZipFile(wheel, "w") as out:
        for name, text in files.items():
            out.writestr(name, text)
        if padding_bytes:
            padding = os.urandom(padding_bytes)
            out.writestr("onetrip_padding.bin", padding)
            record += f"onetrip_padding.bin,sha256={_digest(padding)},{padding_bytes}\n"
        out.writestr(f"{info}/RECORD", record + f"{info}/RECORD,,\n")
    staged = folder / f"staged-{version}"
    stage_release([wheel], staged, version=version, target=target)
    return pack(staged, folder / f"onetrip-{version}-{target.name}.tar.gz")


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
