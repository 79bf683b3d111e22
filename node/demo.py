"""`make demo`: a station that can be opened in a browser, created on first run and kept after.

Later issues grow this into the whole tree (city, county, township, villages).
"""

from __future__ import annotations

from pathlib import Path

from .config import NodeConfig
from .runtime import initialise

DEMO_STATIONS = (
    # (directory, level, name, division code, port)
    ("village", "village", "青山村便民服务代办点", "511302001001", 8701),
)


def prepare_demo(base: Path) -> list[NodeConfig]:
    """Initialise each demo station that does not exist yet; return the configs of all of them."""
    configs = []
    for directory, level, name, region, port in DEMO_STATIONS:
        data_dir = Path(base) / directory
        if not (data_dir / "identity.json").exists():
            initialise(
                NodeConfig(data_dir, port=port), level=level, name=name, region=region, algorithm="ecdsa-p256-sha256"
            )
        configs.append(NodeConfig.load(data_dir))
    return configs
