"""Replay in any arrival order yields the same state: deps first, the HLC to break ties."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from harness.register import WRITE, RegisterRow, state
from storage.models import EventRecord, PendingDep, SignedHeadRecord, StreamHead
from sync.chain import GENESIS, link, sign_head
from sync.event import make_event
from sync.keys import SigningKey
from sync.log import APPLIED
from sync.order import causal_order

ORIGINS = ("i-north", "i-south", "i-east")
KEYS = {origin: SigningKey.generate() for origin in ORIGINS}

writes = st.lists(
    st.tuples(
        st.sampled_from(ORIGINS),
        st.sampled_from(["app-1", "app-2"]),
        st.integers(0, 50),  # hlc offset: concurrent writers' clocks disagree
        st.booleans(),  # does the author know every earlier event of the entity?
    ),
    min_size=1,
    max_size=14,
)


def author_history(plan):
    """Events each origin wrote, in its own order, with deps on what it had (plausibly) seen."""
    per_origin = {origin: [] for origin in ORIGINS}
    by_entity: dict[str, list] = {}
    for n, (origin, entity, skew, knows_all) in enumerate(plan):
        prior = by_entity.setdefault(entity, [])
        seen = prior if knows_all else [e for e in prior if e.origin == origin]
        covered = {d for e in seen for d in e.deps}
        deps = [e.eid for e in seen if e.eid not in covered]
        event = make_event(
            origin=origin,
            stream="s",
            seq=len(per_origin[origin]) + 1,
            hlc=(1000 + n * 10 + skew) << 16,
            type=WRITE,
            entity=entity,
            payload={"value": f"{origin}#{n}"},
            deps=deps,
        )
        per_origin[origin].append(event)
        prior.append(event)
    return per_origin


def batches_of(origin, events, cuts):
    """Cut one origin's stream into signed batches at the given points."""
    batches, chain, start = [], GENESIS, 0
    for end in sorted({c for c in cuts if 0 < c < len(events)} | {len(events)}):
        for event in events[start:end]:
            chain = link(chain, event.eid)
        head = sign_head(
            KEYS[origin], origin=origin, stream="s", seq=end, chain=chain, signed_at=1, expires_at_ms=2**41
        )
        batches.append(([e.raw for e in events[start:end]], head))
        start = end
    return batches


def clear():
    for model in (PendingDep, EventRecord, StreamHead, SignedHeadRecord, RegisterRow):
        model.delete().execute()


@given(writes, st.data())
def test_any_arrival_order_yields_the_state_of_the_causal_order(migrated_sqlite, make_log, signing_key, plan, data):
    clear()
    log = make_log("i-hub", signing_key, {o: k.verifying_key for o, k in KEYS.items()})
    history = author_history(plan)
    queues = {
        origin: batches_of(origin, events, data.draw(st.lists(st.integers(1, 13), max_size=3)))
        for origin, events in history.items()
        if events
    }
    while queues:  # a random interleaving; each origin's batches stay in their order
        origin = data.draw(st.sampled_from(sorted(queues)))
        raws, head = queues[origin].pop(0)
        log.ingest(raws, head)
        if not queues[origin]:
            del queues[origin]

    expected: dict[str, list[str]] = {}
    for event in causal_order(e for events in history.values() for e in events):
        expected.setdefault(event.entity, []).append(event.payload["value"])
    assert state() == expected
    assert {r.status for r in EventRecord.select()} == {APPLIED}


def test_an_event_that_sorts_before_one_appended_earlier_in_the_transaction_is_replayed_before_it(
    migrated_sqlite, make_log, signing_key
):
    """Deciding an arrival reads only the newest applied event of its entity: one appended in the same
    transaction and not stored yet counts too, or the arrival would be applied after an event it precedes."""
    clear()
    log = make_log("i-hub", signing_key, {o: k.verifying_key for o, k in KEYS.items()})
    (remote,) = author_history([("i-north", "app-1", 0, True)])["i-north"]
    ((raws, head),) = batches_of("i-north", [remote], [])
    with log.transaction():
        log.append(WRITE, "app-1", {"value": "local"}, stream="s", hlc=remote.hlc + (1 << 16))
        log.ingest(raws, head)
    assert state() == {"app-1": ["i-north#0", "local"]}
