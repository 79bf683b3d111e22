"""Applications as events: intake at a village station, encrypted at rest, idempotent, then
accepted and decided at the county with a working-day deadline."""

from __future__ import annotations

import base64

import pytest

from harness.cases import file
from harness.tree import open_node, provision_county, provision_village
from node.cases.intake import Applicant, IntakeRefused, attach_scan, read_applicant, transition
from node.cases.queries import timeline
from node.cases.ratings import rate
from node.cases.visibility import Viewer
from node.config import NodeConfig
from node.fleet import admin as fleet
from storage.database import db
from storage.models import Application, Attachment, EventRecord, Statistic
from sync.fields import decrypt_field, unwrap_data_key
from sync.log import NotAuthorized


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    base = tmp_path_factory.mktemp("apps")
    tree = provision_county(base)
    village = provision_village(base, tree)
    return tree, village


@pytest.fixture
def nodes(template, tmp_path):
    import shutil

    tree, village = template
    db.close()
    copies = {}
    for name, config in (("county", tree.county), ("village", village)):
        shutil.copytree(config.data_dir, tmp_path / name)
        copies[name] = NodeConfig(tmp_path / name)
    yield copies
    db.close()


def push_to_county(village, nodes):
    """Carry the village's stream to the county by hand (sync is issue 5); return the county node."""
    village.events.sign_heads()
    head = village.events.latest_head(village.identity.installation, village.identity.station)
    batch = village.events.events_of(village.identity.installation, village.identity.station, 0, head.seq)
    db.close()
    county = open_node(nodes["county"])
    county.events.ingest(batch, head)
    return county


def test_a_village_files_an_application_whose_personal_fields_are_encrypted_at_rest(nodes):
    village = open_node(nodes["village"])
    number = file(village)
    row = Application.get_by_id(number)
    assert number.startswith(f"{village.identity.station}-") and row.state == "submitted"
    assert row.masked_id == "110***********002X"
    assert read_applicant(number, village.identity, village.keys).name == "张秀英"
    db.close()
    raw = (nodes["village"].data_dir / "onetrip.db").read_bytes()
    wal = nodes["village"].data_dir / "onetrip.db-wal"
    raw += wal.read_bytes() if wal.exists() else b""
    for secret in ("张秀英", "11010519491231002X", "13800138000", "青山村3组"):
        assert secret.encode() not in raw


def test_a_retried_submit_files_once(nodes):
    village = open_node(nodes["village"])
    assert file(village, token="same") == file(village, token="same")
    assert EventRecord.select().where(EventRecord.type == "application.filed").count() == 1


def test_a_bad_intake_lists_every_problem_and_writes_nothing(nodes):
    village = open_node(nodes["village"])
    before = EventRecord.select().count()
    wrong = Applicant("", "110105194912310021", "12345", "")
    with pytest.raises(IntakeRefused) as refused:
        file(village, applicant=wrong, consent=False)
    assert len(refused.value.problems) == 5
    assert any("校验位" in p for p in refused.value.problems)
    assert EventRecord.select().count() == before


def test_a_village_cannot_accept_but_the_county_can_and_counts_the_deadline(nodes):
    village = open_node(nodes["village"])
    number = file(village)
    with pytest.raises(NotAuthorized):
        transition(village.events, number, "application.accepted", {"by": "cun.agent"})
    county = push_to_county(village, nodes)
    transition(county.events, number, "application.accepted", {"by": "county.clerk"})
    row = Application.get_by_id(number)
    assert row.state == "accepted" and row.due > row.accepted_on
    with pytest.raises(Exception) as refused:
        rate(county.events, number, "satisfied", [], "", "query")
    assert "此时可以" in str(refused.value)
    transition(county.events, number, "application.decided", {"approved": True, "by": "county.clerk"})
    assert Application.get_by_id(number).state == "approved"

    # The county reads the resident's fields with its own key, wrapped to it inside the event.
    filed = EventRecord.get(EventRecord.type == "application.filed")
    from sync.event import parse_event

    payload = parse_event(bytes(filed.body)).payload
    wrapped = base64.b64decode(payload["keys"][county.identity.installation])
    data_key = unwrap_data_key(wrapped, county.keys.agreement, f"application:{number}")
    assert decrypt_field(data_key, f"application:{number}", "name", payload["sealed"]["name"]) == "张秀英"


def test_statistics_are_kept_only_at_a_hub_where_a_dashboard_reads_them(nodes):
    village = open_node(nodes["village"])
    number = file(village)
    assert Statistic.select().count() == 0 and Application.get_by_id(number).tally == "[]"
    county = push_to_county(village, nodes)
    transition(county.events, number, "application.accepted", {"by": "county.clerk"})
    counted = Statistic.get()
    assert (counted.filed, counted.accepted) == (1, 1) and Application.get_by_id(number).tally != "[]"


def test_rebuild_reproduces_the_applications(nodes):
    village = open_node(nodes["village"])
    file(village, token="a")
    file(village, token="b")
    before = [(a.number, a.state, a.sealed) for a in Application.select().order_by(Application.number)]
    village.events.rebuild()
    assert [(a.number, a.state, a.sealed) for a in Application.select().order_by(Application.number)] == before


def test_an_event_about_an_application_outside_its_stations_stream_is_refused(nodes):
    from node.cases.events import entity
    from sync.projection import RuleViolation

    village = open_node(nodes["village"])
    number = file(village)
    county = push_to_county(village, nodes)
    with pytest.raises(RuleViolation):  # written into the county's own stream instead of the village's
        county.events.append(
            "application.withdrawn", entity(number), {"by": "x", "reason": "冒用"}, stream=county.identity.station
        )
    assert Application.get_by_id(number).state == "submitted"


def test_a_second_filing_with_the_same_number_or_token_is_refused_not_a_crash(nodes):
    from node.cases.events import FILED, entity
    from sync.event import parse_event
    from sync.projection import RuleViolation

    village = open_node(nodes["village"])
    number = file(village)
    payload = parse_event(bytes(EventRecord.get(EventRecord.type == FILED).body)).payload
    with pytest.raises(RuleViolation):
        village.events.append(
            FILED, entity(number + "9"), {**payload, "number": number + "9"}, stream=village.identity.station
        )
    assert Application.select().count() == 1


def test_the_county_finds_a_village_application_by_id_number_and_reads_it(nodes):
    from node.cases.queries import search

    village = open_node(nodes["village"])
    number = file(village)
    county = push_to_county(village, nodes)
    found = search(
        "11010519491231002x", Viewer("511302", "clerk", county.identity.station), county.keys.lookup, per_page=10
    )
    assert found.total == 1 and found.rows[0].number == number  # one search key across the county
    assert read_applicant(number, county.identity, county.keys).name == "张秀英"


def test_the_queue_pages_by_keyset_both_ways_and_finds_by_number_prefix_name_or_id(nodes):
    from node.cases.queries import search

    village = open_node(nodes["village"])
    numbers = [file(village, token=f"k-{i}") for i in range(65)]
    station = Viewer(village.identity.region, "agent", village.identity.station)
    lookup = village.keys.lookup
    pages, older = [], ""
    while True:
        page = search("", station, lookup, per_page=30, older_than=older)
        pages.append([row.number for row in page.rows])
        if page.older is None:
            break
        older = page.older
    assert [len(p) for p in pages] == [30, 30, 5] and page.total == 65
    assert sum(pages, []) == sorted(numbers, reverse=True)  # newest first, each once
    back = search("", station, lookup, per_page=30, newer_than=page.newer)
    assert [row.number for row in back.rows] == pages[1] and back.older and back.newer
    first = search("", station, lookup, per_page=30, newer_than=back.newer)
    assert [row.number for row in first.rows] == pages[0] and first.newer is None
    assert search("", station, lookup, per_page=30, older_than="nonsense").rows[0].number == pages[0][0]

    assert [r.number for r in search(numbers[7], station, lookup, per_page=30).rows] == [numbers[7]]
    assert search(numbers[12][:-1], station, lookup, per_page=30).total == 10  # its start: 00010 to 00019
    assert search("张秀英", station, lookup, per_page=30).total == 65
    assert search("110105194912310021", station, lookup, per_page=30).total == 0
    assert search("110***********002X", station, lookup, per_page=30).total == 65  # as the list shows it
    assert search("002x", station, lookup, per_page=30).total == 65  # the last four, read out by the resident
    assert search("0021", station, lookup, per_page=30).total == 0


def test_a_batch_whose_second_filing_repeats_a_request_token_applies_the_first_and_quarantines_the_second(nodes):
    from node.cases.events import FILED, entity
    from sync.chain import link, sign_head
    from sync.event import make_event, parse_event

    village = open_node(nodes["village"])
    number = file(village)
    village.events.sign_heads()
    origin, stream = village.identity.installation, village.identity.station
    head = village.events.latest_head(origin, stream)
    raws = village.events.events_of(origin, stream, 0, head.seq)
    payload = parse_event(raws[-1]).payload
    twin = make_event(
        origin=origin,
        stream=stream,
        seq=head.seq + 1,
        hlc=parse_event(raws[-1]).hlc + 1,
        type=FILED,
        entity=entity(number + "9"),
        payload={**payload, "number": number + "9"},  # the same request token: the unique index refuses it
    )
    chain = link(head.chain, twin.eid)
    twin_head = sign_head(
        village.keys.signing, origin=origin, stream=stream, seq=twin.seq, chain=chain, signed_at=1, expires_at_ms=2**42
    )
    db.close()
    county = open_node(nodes["county"])
    receipt = county.events.ingest([*raws, twin.raw], twin_head)
    assert receipt.quarantined == 1 and Application.select().count() == 1
    assert EventRecord.get(EventRecord.eid == twin.eid).status == "quarantined"


def test_a_county_releases_honest_work_a_revoked_pc_queued_offline_before_the_theft(nodes):
    village = open_node(nodes["village"])
    first = file(village, token="before")
    county = push_to_county(village, nodes)
    installation = open_node(nodes["village"]).identity.installation
    db.close()
    county = open_node(nodes["county"])
    fleet.revoke(county, installation, "电脑被盗")
    db.close()
    village = open_node(nodes["village"])
    second = file(village, token="offline")  # filed before the theft, synced only now
    county = push_to_county(village, nodes)
    assert Application.get_or_none(Application.number == second) is None  # quarantined: past what is vouched
    queued = EventRecord.get(EventRecord.entity == f"application:{second}")
    assert queued.status == "quarantined" and "吊销" in queued.reason

    with pytest.raises(Exception, match="已担保至第"):
        fleet.release(county, installation, queued.stream, queued.seq - 1, "核实")
    assert fleet.release(county, installation, queued.stream, queued.seq, "经核实为被盗前的办件") == 1
    assert Application.get_by_id(second).state == "submitted" and Application.get_by_id(first)
    assert EventRecord.get(EventRecord.eid == queued.eid).status == "applied"
    assert county.events.readmit_vouched() == 0  # nothing else waits


def test_a_withdrawal_offline_while_the_county_decided_is_kept_held_back_and_settled_by_a_clerk(nodes):
    from node.cases.conflicts import open_conflicts, settle
    from node.rules.workflow import APPROVED

    village = open_node(nodes["village"])
    number = file(village)
    county = push_to_county(village, nodes)
    transition(county.events, number, "application.accepted", {"by": "county.clerk"})
    transition(county.events, number, "application.decided", {"approved": True, "by": "county.clerk"})
    db.close()
    village = open_node(nodes["village"])  # has not heard of the decision: the resident withdraws
    transition(village.events, number, "application.withdrawn", {"by": "cun.agent", "reason": "不办了"})
    county = push_to_county(village, nodes)

    assert Application.get_by_id(number).state == APPROVED  # the deterministic order keeps the decision
    (conflict,) = open_conflicts("511302")
    assert conflict.number == number and conflict.step == "撤回" and "不能撤回" in conflict.reason
    assert EventRecord.get(EventRecord.eid == conflict.eid).status == "quarantined"  # kept, not dropped
    with pytest.raises(IntakeRefused):
        settle(county.events, number, "0" * 64, "无此冲突", "county.clerk")
    settle(county.events, number, conflict.eid, "已电话告知申请人，以县级决定为准", "county.clerk")
    assert open_conflicts("511302") == [] and Application.get_by_id(number).state == APPROVED
    assert any(step.note == "已电话告知申请人，以县级决定为准" for step in timeline(number))
    db.close()
    village = open_node(nodes["village"])
    with pytest.raises(NotAuthorized):  # a village station does not settle what its county decided
        village.events.append(
            "application.conflict_settled",
            f"application:{number}",
            {"eid": conflict.eid, "note": "x", "by": "x"},
            stream=village.identity.station,
        )


def _projected() -> tuple[list, list]:
    """The application rows and the non-zero statistics, to compare with what a rebuild makes."""
    from storage.models import Statistic

    rows = [tuple(a.__data__.values()) for a in Application.select().order_by(Application.number)]
    stats = [tuple(s.__data__.values()) for s in Statistic.select().order_by(Statistic.day, Statistic.item_code)]
    return rows, [s for s in stats if any(isinstance(v, int) and v for v in s)]


def test_a_refused_event_in_the_middle_of_a_run_leaves_the_other_rows_as_their_events_make_them(nodes):
    from node.rules.workflow import APPROVED, WITHDRAWN

    village = open_node(nodes["village"])
    numbers = [file(village, token=t) for t in ("a", "b", "c")]
    county = push_to_county(village, nodes)
    transition(county.events, numbers[1], "application.accepted", {"by": "county.clerk"})
    transition(county.events, numbers[1], "application.decided", {"approved": True, "by": "county.clerk"})
    db.close()
    village = open_node(nodes["village"])  # has not heard of the decision: all three are withdrawn in one run
    for number in numbers:
        transition(village.events, number, "application.withdrawn", {"by": "cun.agent", "reason": "不办了"})
    county = push_to_county(village, nodes)

    states = {a.number: a.state for a in Application.select()}
    assert states == {numbers[0]: WITHDRAWN, numbers[1]: APPROVED, numbers[2]: WITHDRAWN}
    refused = EventRecord.select().where(EventRecord.status == "quarantined")
    assert [r.entity for r in refused] == [f"application:{numbers[1]}"]
    before = _projected()
    county.events.rebuild()
    assert _projected() == before


def test_an_entity_replayed_twice_in_one_run_ends_as_a_rebuild_makes_it(nodes):
    village = open_node(nodes["village"])
    number = file(village)
    county = push_to_county(village, nodes)
    db.close()
    village = open_node(nodes["village"])  # two scans offline, before the county accepts
    for material, data in (("身份证", b"\xff\xd8\xff\xe0one"), ("户口簿", b"\xff\xd8\xff\xe0two")):
        attach_scan(village.events, village.identity, village.keys, village.blobs, number, material, data, "cun.agent")
    db.close()
    county = open_node(nodes["county"])
    transition(county.events, number, "application.accepted", {"by": "county.clerk"})
    db.close()
    county = push_to_county(open_node(nodes["village"]), nodes)  # each scan sorts before the acceptance

    row = Application.get_by_id(number)
    assert row.state == "accepted" and row.due is not None
    assert Attachment.select().where(Attachment.number == number).count() == 2
    assert EventRecord.select().where(EventRecord.status != "applied").count() == 0
    before = _projected()
    county.events.rebuild()
    assert _projected() == before
