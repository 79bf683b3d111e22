"""What a hub keeps between its children's requests (`node.link.watch`) never hides a change another process of
the same hub made: two `Node`s on one database play two `onetrip serve` processes of one county."""

from __future__ import annotations

from unittest import mock

import peewee as pw
import pytest

from harness.cluster import file
from node.cases.intake import transition
from node.config import NodeConfig
from node.fleet import admin as fleet
from node.link import upstream
from node.runtime import Node
from storage.database import bind, db
from storage.models import EventRecord
from sync import canonical, delta
from sync.batch import decode_batch, encode_batch
from sync.event import parse_event
from sync.request import PULL_CONTEXT, PUSH_CONTEXT, open_answer
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
        asked = canonical.encode({"cursor": 0})
        sealed = parent.seal(PULL_CONTEXT, asked)  # kept: its key opens the answer
        try:
            parent.call(upstream.PULL_PATH, PULL_CONTEXT, asked, sealed)
        except upstream.Unreachable:
            pulls.append((*capture.sent, sealed))
    county = Node.from_config(NodeConfig.load(dirs / "county"))
    client = create_app(node=county).test_client()

    def pull(n: int):
        headers, body, sealed = pulls[n]
        return client.post(upstream.PULL_PATH, headers=headers, data=body), sealed

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
    answer, sealed = pull(1)
    batch = decode_batch(open_answer(sealed.answer_key, answer.data, nonce=sealed.nonce))
    payloads = [parse_event(raw).payload for _, raws in batch.runs for raw in raws]
    assert any(p.get("station", "").startswith("511302001002") for p in payloads)


@pytest.fixture
def linked(dirs):
    """The village and its county, each on its own database, and `call(path, context, body)`: the village's
    signed request, answered by the county's app and opened, with the village's database bound again."""
    village = Node.from_config(NodeConfig.load(dirs / "village"))
    village_db = db.obj
    capture = _Capture()
    parent = upstream.Parent(village, capture, hub=upstream.Hub(village.identity.parent, "http://x.invalid"))
    county = Node.from_config(NodeConfig.load(dirs / "county"))
    county_db = db.obj
    client = create_app(node=county).test_client()

    def call(path: str, context: bytes, body: bytes) -> bytes:
        bind(village_db)
        sealed = parent.seal(context, body)
        try:
            parent.call(path, context, body, sealed)
        except upstream.Unreachable:
            headers, sent = capture.sent
        bind(county_db)
        answer = client.post(path, headers=headers, data=sent)
        assert answer.status_code == 200, answer.data
        bind(village_db)
        return open_answer(sealed.answer_key, answer.data, nonce=sealed.nonce)

    def at_county():
        bind(county_db)
        return county

    bind(village_db)
    return village, at_county, call


def _push_all(village: Node, call) -> int:
    """Push everything of the village's own; the village's newest arrival."""
    village.events.sign_heads()
    call(
        upstream.PUSH_PATH,
        PUSH_CONTEXT,
        encode_batch(delta.outgoing(0, lambda o, _: o == village.identity.installation)),
    )
    return EventRecord.select(pw.fn.MAX(EventRecord.arrival)).scalar()


def test_a_pull_reads_nothing_of_what_the_child_just_pushed_and_still_brings_a_decision_down(linked):
    """A station's pull right after its push used to read back everything it had pushed, to send none of it:
    the watch now notes what each child would receive, and only that makes its pull read."""
    village, at_county, call = linked
    number = file(village)
    village.events.sign_heads()
    pushed = encode_batch(delta.outgoing(0, lambda origin, _: origin == village.identity.installation))

    def pull(cursor: int):
        with mock.patch.object(delta, "outgoing", wraps=delta.outgoing) as reads:
            batch = decode_batch(call(upstream.PULL_PATH, PULL_CONTEXT, canonical.encode({"cursor": cursor})))
        return batch, reads.called

    before, _ = pull(0)
    call(upstream.PUSH_PATH, PUSH_CONTEXT, pushed)
    county = at_county()
    newest = EventRecord.select(pw.fn.MAX(EventRecord.arrival)).scalar()
    assert newest > before.cursor  # the push arrived after the village's down-cursor
    after, read = pull(before.cursor)
    assert not read and after.runs == () and after.cursor == newest  # passed over unread

    at_county()
    transition(county.events, number, "application.accepted", {"by": "county.clerk"})
    decided, read = pull(after.cursor)
    assert read and any(parse_event(raw).type == "application.accepted" for _, raws in decided.runs for raw in raws)


@pytest.mark.parametrize("unsent", [False, True])
def test_a_pull_passes_the_up_cursor_over_what_came_down_unless_something_of_ours_waits(linked, unsent):
    """What comes down is never ours to send: the pull's transaction moves the up-cursor past it, so the push
    after it reads nothing back. Not while an event of ours waits to go up: that one must still be sent."""
    village, at_county, call = linked
    number = file(village)
    sent_up_to = _push_all(village, call)
    link = upstream.link_row(village.identity.parent)
    link.up_cursor = sent_up_to
    if unsent:
        file(village)  # filed after the push: not sent yet
    county = at_county()
    transition(county.events, number, "application.accepted", {"by": "county.clerk"})
    batch = decode_batch(call(upstream.PULL_PATH, PULL_CONTEXT, canonical.encode({"cursor": link.down_cursor})))
    assert upstream.apply_pulled(village, link, [batch]) == 1
    newest = EventRecord.select(pw.fn.MAX(EventRecord.arrival)).scalar()
    stored = upstream.link_row(village.identity.parent)
    assert (stored.up_cursor, stored.down_cursor) == (sent_up_to if unsent else newest, batch.cursor)
    mine = lambda origin, _: origin == village.identity.installation  # noqa: E731
    village.events.sign_heads()
    assert bool(delta.outgoing(stored.up_cursor, mine).runs) == unsent
