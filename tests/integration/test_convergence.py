"""Random interleavings of offline work at two village stations and their county — filings, the
county's acceptances, sync rounds by USB stick (return bundles lost on the way back) and over HTTP
to the county served on loopback (links cut after any request, its answer lost) — always converge:
after a last round each, every node holds the same state of every application in its scope, each
event once. (A short run in `make test`, a long one in `make soak`.)"""

from __future__ import annotations

import atexit
import functools
import io
import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule

from harness.cases import file
from harness.servers import free_port, start, stop
from harness.tree import open_node, provision_county
from node.cases.intake import transition
from node.cli.demo import enrol_by_bundle
from node.config import NodeConfig
from node.fleet import admin as fleet
from node.link import downstream, upstream, usb
from node.runtime import initialise
from provisioning.identity import load_identity, save_identity
from storage.database import db
from storage.models import Application, EventRecord, StreamHead
from sync import sneakernet
from sync.errors import SyncError
from sync.transport import HttpTransport, Unreachable

VILLAGES = {"v1": "511302001001", "v2": "511302001002"}


@functools.cache
def template() -> Path:
    base = Path(tempfile.mkdtemp(prefix="onetrip-converge-"))
    atexit.register(shutil.rmtree, base, True)
    tree = provision_county(base)
    for name, region in VILLAGES.items():
        done = fleet.register(
            open_node(tree.county), name=f"{name}村", level="village", region=region, hub_url="http://x.invalid"
        )
        db.close()
        config = NodeConfig(base / name)
        initialise(
            config, level="village", name=f"{name}村便民服务代办点", region=region, algorithm="ecdsa-p256-sha256"
        )
        enrol_by_bundle(tree.county, config, done.code, "http://x.invalid")
    db.close()
    return base


class Convergence(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.base = Path(tempfile.mkdtemp(prefix="onetrip-run-"))
        for name in ("city", "county", *VILLAGES):
            shutil.copytree(template() / name, self.base / name)
        port = free_port()
        for village in VILLAGES:
            identity, _ = load_identity(self.base / village)
            save_identity(self.base / village, replace(identity, parent_url=f"http://127.0.0.1:{port}"))
        # The county's own rounds stay out of the way.
        self.server = start(
            ["serve", "--data", str(self.base / "county")], port, settings={"ONETRIP_SYNC_INTERVAL_S": "3600"}
        )

    def node(self, name: str):
        return open_node(NodeConfig(self.base / name))

    @rule(village=st.sampled_from(sorted(VILLAGES)))
    def file_offline(self, village):
        file(self.node(village), token=os.urandom(8).hex())

    @rule(nth=st.integers(0, 50))
    def county_accepts(self, nth):
        county = self.node("county")
        waiting = [a.number for a in Application.select().where(Application.state == "submitted")]
        if waiting:
            transition(county.events, waiting[nth % len(waiting)], "application.accepted", {"by": "county.clerk"})

    @rule(village=st.sampled_from(sorted(VILLAGES)), comes_back=st.booleans())
    def sync_by_stick(self, village, comes_back):
        """A round by USB stick; when the return bundle is lost, nothing moves at the village."""
        bundle, answer = io.BytesIO(), io.BytesIO()
        usb.export_bundle(self.node(village), bundle)
        downstream.import_bundle(self.node("county"), sneakernet.read(io.BytesIO(bundle.getvalue())), answer)
        if comes_back:
            usb.import_return(self.node(village), sneakernet.read(io.BytesIO(answer.getvalue())))

    @rule(village=st.sampled_from(sorted(VILLAGES)), cut_after=st.one_of(st.none(), st.integers(0, 6)))
    def sync_online(self, village, cut_after):
        """A round over HTTP; when the link is cut, the request that was cut reached the county, its answer did not."""
        node = self.node(village)
        try:
            upstream.sync_once(node, CutAfter(node.identity.parent_url, cut_after))
        except SyncError:
            assert cut_after is not None

    def teardown(self):
        try:
            for village in VILLAGES:
                self.sync_online(village, None)
                self.sync_by_stick(village, True)
            self.node("county")
            held = {a.number: a.state for a in Application.select()}
            for head in StreamHead.select():  # every stream held whole, each event once
                held_events = EventRecord.select().where(
                    (EventRecord.origin == head.origin) & (EventRecord.stream == head.stream)
                )
                assert held_events.count() == head.seq
            for village in VILLAGES:
                self.node(village)
                mine = {a.number: a.state for a in Application.select()}
                assert mine == {n: s for n, s in held.items() if n in mine}  # the same state on both sides
                assert all(number in held for number in mine)  # everything filed reached the county
        finally:
            db.close()
            stop(self.server)
            shutil.rmtree(self.base, ignore_errors=True)


class CutAfter(HttpTransport):
    """The real HTTP link, cut after `requests` requests: the last one is delivered and its answer lost."""

    def __init__(self, base_url: str, requests: int | None):
        super().__init__(base_url)
        self.left = requests

    def post(self, path: str, headers: dict[str, str], body: bytes) -> bytes:
        answer = super().post(path, headers, body)
        if self.left is not None:
            if self.left == 0:
                raise Unreachable("连接中断")
            self.left -= 1
        return answer


SOAK = os.environ.get("HYPOTHESIS_PROFILE") == "soak"
Convergence.TestCase.settings = settings(
    max_examples=200 if SOAK else 8, stateful_step_count=12 if SOAK else 8, deadline=None
)
test_random_offline_work_and_sticks_converge = Convergence.TestCase
