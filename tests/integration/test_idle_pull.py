"""What a hub keeps between its children's requests (`node.link.watch`) never hides a change another process of
the same hub made: two `Node`s on one database play two `onetrip serve` processes of one county."""

from __future__ import annotations

import pytest

from node.config import NodeConfig
from node.fleet import admin as fleet
from node.link import upstream
from node.runtime import Node
from sync import canonical
from sync.batch import decode_batch
from sync.event import parse_event
from sync.request import ANSWER_CONTEXT, PULL_CONTEXT, open_body
from web import create_app


class _Capture:
    def post(self, path: str, headers: dict[str, str], body: bytes) -> bytes:
        self.sent = (headers, body)
        raise upstream.Unreachable("captured")


@pytest.fixture
def hub(dirs):
    """The village's signed pulls (from cursor 0), its keys to open the answers, and the county's process one."""
    village = Node.from_config(NodeConfig.load(dirs / "village"))
    capture, pulls = _Capture(), []
    parent = upstream.Parent(village, capture, hub=upstream.Hub(village.identity.parent, "http://x.invalid"))
    for _ in range(3):
        try:
            parent.call(upstream.PULL_PATH, PULL_CONTEXT, canonical.encode({"cursor": 0}))
        except upstream.Unreachable:
            pulls.append(capture.sent)
    county = Node.from_config(NodeConfig.load(dirs / "county"))
    client = create_app(node=county).test_client()

    def pull(n: int):
        headers, body = pulls[n]
        return client.post(upstream.PULL_PATH, headers=headers, data=body), headers

    return village, pull, dirs


def test_a_revocation_applied_by_another_process_refuses_the_next_request(hub):
    village, pull, dirs = hub
    assert pull(0)[0].status_code == 200  # the first process has looked the village's certificates up
    other = Node.from_config(NodeConfig.load(dirs / "county"))
    fleet.revoke(other, village.identity.installation, "被盗")
    answer, _ = pull(1)
    assert answer.status_code == 403 and answer.json["error"] == "installation_revoked"


def test_an_own_event_another_process_appended_goes_down_signed_with_the_next_pull(hub):
    village, pull, dirs = hub
    assert pull(0)[0].status_code == 200  # the first process has signed its heads
    other = Node.from_config(NodeConfig.load(dirs / "county"))
    fleet.register(other, name="白塔村", level="village", region="511302001002", hub_url="http://x.invalid")
    answer, headers = pull(1)
    batch = decode_batch(
        open_body(village.keys.agreement, answer.data, context=ANSWER_CONTEXT, nonce=headers["X-OneTrip-Nonce"])
    )
    payloads = [parse_event(raw).payload for _, raws in batch.runs for raw in raws]
    assert any(p.get("station", "").startswith("511302001002") for p in payloads)
