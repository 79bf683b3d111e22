"""A city and a county hub provisioned in-process, switching the process's database between them.

One process binds one database at a time, so each step opens the node it acts on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from node.config import NodeConfig
from node.fleet import admin as fleet
from node.fleet import joining
from node.runtime import Node, initialise
from storage.database import db


@dataclass(frozen=True)
class Tree:
    city: NodeConfig
    county: NodeConfig

    def open(self, which: str, clock=None) -> Node:
        db.close()
        return Node.from_config(getattr(self, which), clock=clock)


def open_node(config: NodeConfig, clock=None) -> Node:
    db.close()
    return Node.from_config(config, clock=clock)


def provision_county(base: Path) -> Tree:
    """A city with its root, and a county enrolled to it by USB bundle."""
    city, county = NodeConfig(base / "city"), NodeConfig(base / "county")
    initialise(city, level="city", name="南充市政务服务中心", region="511300", algorithm="ecdsa-p256-sha256")
    registered = fleet.register(
        Node.from_config(city),
        name="顺庆区政务服务中心",
        level="county",
        region="511302",
        hub_url="http://city.invalid",
    )
    bundle = fleet.bundle_for(open_node(city), registered.code, "http://city.invalid")
    db.close()
    initialise(county, level="county", name="顺庆区政务服务中心", region="511302", algorithm="ecdsa-p256-sha256")
    request = joining.enrol_from_bundle(open_node(county), bundle, registered.code)
    grant = fleet.grant(open_node(city), request)
    joining.install_grant(open_node(county), grant)
    db.close()
    return Tree(city, county)


def provision_village(base: Path, tree: Tree | None = None) -> NodeConfig:
    """A village station registered at the county (of `tree`, or a new one) and enrolled by USB bundle."""
    from node.cli.demo import enrol_by_bundle

    tree = tree or provision_county(base)
    done = fleet.register(
        open_node(tree.county), name="青山村", level="village", region="511302001001", hub_url="http://x.invalid"
    )
    db.close()
    village = NodeConfig(base / "village")
    initialise(
        village, level="village", name="青山村便民服务代办点", region="511302001001", algorithm="ecdsa-p256-sha256"
    )
    enrol_by_bundle(tree.county, village, done.code, "http://x.invalid")
    return village
