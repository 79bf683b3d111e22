"""What the rooms above need of a running node, as a `Protocol`: its settings, identity and keys, event
log, blob store and clock. `node.runtime.Node` satisfies it; a test can hand in anything that does, and
the rooms that take it (link, printing, seals, fleet) never import the composition root above them."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from node.config import NodeConfig
from provisioning.identity import Identity, Keys
from storage.blobs import BlobStore
from sync.log import EventLog


class Context(Protocol):
    config: NodeConfig
    identity: Identity
    keys: Keys
    events: EventLog
    blobs: BlobStore

    def now(self) -> datetime:
        """Now, by the node's hybrid clock (a frozen clock in tests)."""
        ...
