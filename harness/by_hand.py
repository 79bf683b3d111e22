"""The demo tree (city, county, township, village) in-process, and its streams carried between nodes by
hand: what a sync round would carry, without servers, for tests about what each node does with it."""

from __future__ import annotations

import shutil
from pathlib import Path

from harness.tree import open_node
from node.cli import demo
from node.config import NodeConfig
from storage.database import db

LEVELS = ("city", "county", "township", "village")


def demo_copy(template: Path, base: Path) -> dict[str, NodeConfig]:
    """A fresh copy of a prepared demo tree; its nodes' configs by level."""
    db.close()
    shutil.copytree(template, base)
    return {level: NodeConfig.load(base / level) for level in LEVELS}


def demo_copy_with_village_known(template: Path, base: Path) -> dict[str, NodeConfig]:
    """A fresh copy whose township has the county's `all` stream, and with it the village's certificate:
    what the township needs before it takes in anything the village signed."""
    configs = demo_copy(template, base)
    carry(configs["county"], configs["township"], stream="all")
    return configs


def prepare_demo(base: Path) -> Path:
    demo.prepare(base, 47100)  # ports are never bound in-process
    db.close()
    return base


def carry(source: NodeConfig, target: NodeConfig, stream: str | None = None):
    """Everything `source` wrote in `stream` (its own station's by default), signed, ingested at `target`;
    the target node, open."""
    node = open_node(source)
    origin, stream = node.identity.installation, stream or node.identity.station
    node.events.sign_heads()
    head = node.events.latest_head(origin, stream)
    batch = node.events.events_of(origin, stream, 0, head.seq)
    receiver = open_node(target)
    receiver.events.ingest(batch, head)
    return receiver
