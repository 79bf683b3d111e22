"""Applications applied as their events arrive, in batches of a village station's stream and its county hub's
two installations' (two windows), end exactly as a rebuild leaves them: every column of every application row,
the statistics' sums and each event's status. Deciding a batch takes shortcuts (an event beyond its entity's
newest settled one is applied without reading the entity's events, `Deciding._is_last`; one that sorts before
settled ones replays its entity; a refusal undoes a whole optimistic run; a pending event is decided when its
dep arrives), the rebuild none: any divergence is a shortcut that does not give the causal order's result.

No column is left out of the comparison: every one is a function of the application's events in causal order
(days are Beijing days of the events' HLCs, not of arrival), so none may depend on the order they arrived in.
Reasons of quarantined events are not compared: they are words for a person, not state."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import peewee as pw
from hypothesis import given, note
from hypothesis import strategies as st

from harness.cases import DAY_MS, STATION, T0, filing
from node.cases.events import beijing_date, entity, next_state_after
from node.cases.projection import ApplicationProjection
from node.catalogue.data import read_seed_holidays, sample_catalogue
from node.rules import tally
from node.rules.tally import COUNTERS
from node.rules.workflow import (
    ACCEPTED,
    APPROVED,
    BEFORE_DECISION,
    CORRECTIONS,
    DELIVERED,
    DENIED,
    IN_REVIEW,
    RATED,
    SUBMITTED,
    SUSPENDED,
    IllegalTransition,
)
from storage.models import (
    Application,
    Attachment,
    DataKey,
    EventRecord,
    PendingDep,
    SignedHeadRecord,
    Statistic,
    StreamHead,
)
from sync.chain import GENESIS, link, sign_head
from sync.event import Event, make_event
from sync.keys import SigningKey
from sync.order import causal_order
from sync.projection import Registry

ITEM = "11511302MB1002024J-0003"  # decided by the county, 10 working days; the bank card may be deferred (容缺)
DEFERRABLE = {"key": "bank_account", "name": "申领人本人银行卡或存折"}
HOUR_MS = 3600 * 1000
CHINA = dt.timezone(dt.timedelta(hours=8))
VILLAGE, COUNTY, WINDOW = "i-village", "i-county", "i-county-window"  # the hub has two installations
LEVELS = {VILLAGE: "village", COUNTY: "county", WINDOW: "county"}


@dataclass
class View:
    """What one writer knows of one application, replayed as its own node would: the state, and whether 容缺
    material is owed and by when. An event its node would have refused is skipped."""

    state: str | None = None
    owed: bool = False
    deferral_due: dt.date | None = None


def view_of(events: list[Event]) -> View:
    """The writer's view from the events it has heard of, so that it steps only as its node would let it."""
    view = View()
    for event in causal_order(events):
        try:
            state = next_state_after(view.state, event.type, event.payload)
        except IllegalTransition:
            continue
        if event.type == "application.deferral_lapsed" and not (
            view.owed and beijing_date(event.hlc) > view.deferral_due
        ):
            continue
        if event.type == "application.deferred_supplied" and not view.owed:
            continue
        view.state = state
        if event.type == "application.accepted" and (deferral := event.payload.get("deferral")):
            view.owed, view.deferral_due = True, dt.date.fromisoformat(deferral["deadline"])
        elif event.type == "application.deferred_supplied":
            view.owed = False
    return view


def steps(writer: str, view: View, day: dt.date) -> list[tuple[str, dict]]:
    """What this writer's staff (or the resident, at the station) may do from what it knows: the county
    takes the deciding steps, the station the resident's; either hands a result over or records 容缺 brought."""
    state, by = view.state, {"by": f"{writer}.staff"}
    done: list[tuple[str, dict]] = []
    if writer != VILLAGE:
        if state == SUBMITTED:
            deadline = (day + dt.timedelta(days=1)).isoformat()  # a short one, so that it can lapse in the run
            done += [
                ("application.accepted", by),
                ("application.accepted", by | {"deferral": {"deadline": deadline, "items": [DEFERRABLE]}}),
                ("application.corrections_requested", by | {"items": ["户口注销证明"], "deadline_days": 5}),
                ("application.not_accepted", by | {"reason": "不属于本机关职权范围"}),
            ]
        if state in (ACCEPTED, IN_REVIEW):
            done += [
                ("application.suspended", by | {"procedure": "inspection"}),
                ("application.decided", by | {"approved": True}),
                ("application.decided", by | {"approved": False, "reason": "材料不实"}),
            ]
        if state == ACCEPTED:
            done.append(("application.review_started", by))
        if state == SUSPENDED:
            done.append(("application.resumed", by))
        if state in (ACCEPTED, IN_REVIEW, SUSPENDED) and view.owed and day > view.deferral_due:
            done.append(("application.deferral_lapsed", by | {"reason": "逾期未补齐容缺材料"}))
    else:
        if state == CORRECTIONS:
            done.append(("application.corrected", by))
        if state == DELIVERED:
            done.append(("application.rated", {"grade": "dissatisfied", "reasons": ["slow"], "channel": "token"}))
            done.append(("application.rated", {"grade": "very_satisfied", "reasons": [], "channel": "query"}))
        if state == RATED:
            done.append(("application.rating_added", {"comment": "后来补办了", "channel": "query"}))
    if state in (APPROVED, DENIED):
        done.append(("application.delivered", by))
    if view.owed and state in (ACCEPTED, IN_REVIEW, SUSPENDED, APPROVED, DENIED):
        done.append(("application.deferred_supplied", by | {"items": [DEFERRABLE["key"]]}))
    return done


@dataclass
class Writer:
    """One installation writing the station's stream: its clock (a little off the true time), what it has
    heard of, its chained events."""

    origin: str
    key: object
    skew_ms: int
    last_hlc: int = 0
    seen: set[str] = field(default_factory=set)
    events: list[Event] = field(default_factory=list)

    def write(self, type_: str, number: str, payload: dict, deps: list[Event], now_ms: int) -> Event:
        covered = {d for e in deps for d in e.deps}
        hlc = max((now_ms + self.skew_ms) << 16, self.last_hlc + 1, *(e.hlc + 1 for e in deps))
        event = make_event(
            origin=self.origin,
            stream=STATION,
            seq=len(self.events) + 1,
            hlc=hlc,
            type=type_,
            entity=entity(number),
            payload=payload,
            deps=sorted(e.eid for e in deps if e.eid not in covered),
        )
        self.last_hlc = hlc
        self.events.append(event)
        self.seen.add(event.eid)
        return event


plans = st.lists(
    st.tuples(
        st.sampled_from([VILLAGE, COUNTY, WINDOW]),
        st.integers(0, 1),  # which application
        st.integers(0, 19),  # which of the steps open to the writer; the last, a withdrawal if one may be
        st.integers(0, 14),  # hours since the last step
        st.booleans(),  # has the writer heard from the others since? (a sync round)
    ),
    min_size=12,
    max_size=40,
)


def author(plan, skews, keys) -> dict[str, Writer]:
    """The writers' streams: the station files, each writer steps from what it has heard of, its deps what it
    has heard of, its clock a little off the others' (so that concurrent steps sort either way)."""
    writers = {origin: Writer(origin, keys[origin], skew) for origin, skew in zip(LEVELS, skews, strict=True)}
    everything: list[Event] = []
    now = T0
    for origin, nth, choice, hours, hears in plan:
        now += hours * HOUR_MS
        writer = writers[origin]
        if hears:
            writer.seen.update(e.eid for e in everything)
        number = f"{STATION}-20261118-AAAA0000{nth + 1}"
        known = [e for e in everything if e.entity == entity(number) and e.eid in writer.seen]
        if not known:
            if origin == VILLAGE:
                everything.append(writer.write("application.filed", number, filing(number, ITEM), [], now))
            continue
        view = view_of(known)
        open_steps = steps(origin, view, dt.datetime.fromtimestamp((now + writer.skew_ms) / 1000, CHINA).date())
        if choice == 19 and view.state in BEFORE_DECISION:
            everything.append(
                writer.write("application.withdrawn", number, {"by": origin, "reason": "撤回"}, known, now)
            )
        elif open_steps:
            type_, payload = open_steps[choice % len(open_steps)]
            everything.append(writer.write(type_, number, payload, known, now))
    return writers


def batches(writer: Writer, key, cuts: list[int]) -> list[tuple[list[bytes], object]]:
    """The writer's stream cut into signed batches at these points."""
    out, chain, start = [], GENESIS, 0
    ends = sorted({c for c in cuts if 0 < c < len(writer.events)} | {len(writer.events)})
    for end in ends:
        for event in writer.events[start:end]:
            chain = link(chain, event.eid)
        head = sign_head(
            key, origin=writer.origin, stream=STATION, seq=end, chain=chain, signed_at=1, expires_at_ms=2**41
        )
        out.append(([e.raw for e in writer.events[start:end]], head))
        start = end
    return out


def hub_log(make_log, keys):
    """A third node's log applying applications, trusting the station and both of the hub's installations."""
    projection = ApplicationProjection(
        sample_catalogue,
        read_seed_holidays,
        "i-hub",
        deciding_level=lambda code, version, station: sample_catalogue().item(code, version).level,
        signer_level=LEVELS.get,
    )
    trusted = {origin: key.verifying_key for origin, key in keys.items()}
    log = make_log("i-hub", SigningKey.generate(), trusted, registry=Registry((projection,)))
    log.clock.clock.set_ms(T0 + 30 * DAY_MS)  # it hears of the cases after they happened
    return log


def clear() -> None:
    for model in (Application, Attachment, DataKey, Statistic, PendingDep, EventRecord, StreamHead, SignedHeadRecord):
        model.delete().execute()


def snapshot() -> tuple[dict, dict, dict]:
    rows = {row["number"]: row for row in Application.select().dicts()}
    key = (Statistic.day, Statistic.station, Statistic.item_code, Statistic.bundle)
    sums = Statistic.select(*key, *(pw.fn.SUM(getattr(Statistic, c)) for c in COUNTERS)).group_by(*key).tuples()
    stats = {}
    for row in sums:
        counts = {name: value for name, value in zip(COUNTERS, row[4:], strict=True) if value}
        if counts:  # a key whose counters were all taken back again is no count
            stats[tuple(str(v) for v in row[:4])] = counts
    statuses = {r.eid: (r.type, r.status) for r in EventRecord.select()}
    return rows, stats, statuses


def counted(rows: dict) -> dict:
    """The sums the rows' own tallies add up to: what the statistic table must hold."""
    total: dict = {}
    for row in rows.values():
        for key, counts in tally.decode(row["tally"]).items():
            held = total.setdefault(key, {})
            for name, value in counts.items():
                held[name] = held.get(name, 0) + value
    return {key: {n: v for n, v in counts.items() if v} for key, counts in total.items() if any(counts.values())}


def story(writers: dict[str, Writer], statuses: dict, rebuilt: dict, deliveries: list) -> str:
    """The events in causal order with their status as applied and as rebuilt, and how they were delivered:
    what a failing example shows."""
    names = {e.eid: f"{w.origin}#{e.seq}" for w in writers.values() for e in w.events}
    lines = [
        f"{names[e.eid]} {e.entity[-2:]} {e.type} hlc={e.hlc >> 16} deps={[names[d] for d in e.deps]} "
        f"{statuses[e.eid][1]} / rebuilt {rebuilt[e.eid][1]}"
        for e in causal_order([e for w in writers.values() for e in w.events])
    ]
    return "\n".join([*lines, f"deliveries (origin, up to seq, events): {deliveries}"])


@given(plans, st.data())
def test_batches_applied_as_they_arrive_leave_what_a_rebuild_leaves(migrated_sqlite, make_log, plan, data):
    clear()
    keys = {origin: SigningKey.generate() for origin in LEVELS}
    log = hub_log(make_log, keys)
    skews = data.draw(st.lists(st.integers(-2 * HOUR_MS, 2 * HOUR_MS), min_size=3, max_size=3))
    writers = author(plan, skews, keys)
    queues = {
        origin: batches(w, keys[origin], data.draw(st.lists(st.integers(1, len(w.events)), max_size=4)))
        for origin, w in writers.items()
        if w.events
    }
    deliveries = []
    while queues:  # a random interleaving; each stream's batches in order, sometimes two streams in one pull
        origin = data.draw(st.sampled_from(sorted(queues)))
        runs = [queues[origin].pop(0)]
        for other in sorted(queues):
            if other != origin and queues[other] and data.draw(st.booleans()):
                runs.append(queues[other].pop(0))
        deliveries.append([(h.origin, h.seq, len(r)) for r, h in runs])
        log.ingest_runs([(head, raws) for raws, head in runs])
        queues = {o: q for o, q in queues.items() if q}

    rows, stats, statuses = snapshot()
    assert stats == {tuple(k): v for k, v in counted(rows).items()}
    assert all(status != "pending" for _, status in statuses.values())
    log.rebuild()
    rebuilt_rows, rebuilt_stats, rebuilt_statuses = snapshot()
    if (statuses, rows) != (rebuilt_statuses, rebuilt_rows):
        note(story(writers, statuses, rebuilt_statuses, deliveries))
    assert statuses == rebuilt_statuses
    assert rows == rebuilt_rows
    assert stats == rebuilt_stats


def test_a_step_refused_for_a_state_a_later_arrival_changes_is_decided_again(migrated_sqlite, make_log):
    """The hub's second window accepts a case not knowing the first asked for corrections; the station's
    correction, made before the acceptance, arrives after it. In causal order the acceptance follows the
    correction and is legal: held back when it arrived, it is applied once the correction is, as a rebuild
    (and any node that heard them in the other order) decides it."""
    clear()
    keys = {origin: SigningKey.generate() for origin in LEVELS}
    log = hub_log(make_log, keys)
    village, county, window = (Writer(origin, keys[origin], 0) for origin in LEVELS)
    number = f"{STATION}-20261118-AAAA00001"
    filed = village.write("application.filed", number, filing(number, ITEM), [], T0)
    asked = county.write(
        "application.corrections_requested", number, {"by": "c", "items": ["户口注销证明"]}, [filed], T0 + HOUR_MS
    )
    village.write("application.corrected", number, {"by": "v"}, [filed, asked], T0 + 2 * HOUR_MS)
    accepted = window.write("application.accepted", number, {"by": "w"}, [filed], T0 + 3 * HOUR_MS)

    for writer, cuts in ((village, [1]), (county, []), (window, [])):
        raws, head = batches(writer, keys[writer.origin], cuts)[0]
        log.ingest(raws, head)
    assert EventRecord.get(EventRecord.eid == accepted.eid).status == "quarantined"  # corrections asked for
    ((raws, head),) = batches(village, keys[village.origin], [1])[1:]
    log.ingest(raws, head)  # the correction

    rows, stats, statuses = snapshot()
    assert rows[number]["state"] == ACCEPTED and rows[number]["accepted_on"] is not None
    assert {status for _, status in statuses.values()} == {"applied"}
    log.rebuild()
    assert snapshot() == (rows, stats, statuses)
