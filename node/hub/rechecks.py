"""秒办 re-checked at the county: an application a station approved by a rule is evaluated again, once, under
the newest version of its item this hub holds; if that version's conditions do not hold, the county records a
`RULE_DISPUTED` finding in the application's stream for a clerk (`node.cases.conflicts`). The approval stands
until the clerk acts: a resident is not un-approved by a rule published after the fact without a person.
Only a county decrypts the applicant, so only a county re-checks."""

from __future__ import annotations

import peewee as pw

from node.cases.events import RULE_DISPUTED, case_stream, entity
from node.cases.intake import NOT_GRANTED, read_applicant
from node.context import Context
from node.errors import DomainError
from node.rules.eligibility import facts, unmet
from node.rules.identifiers import normalise_id_number
from node.rules.workflow import ON_AUTHORITY
from storage.models import Application, EventRecord, ScanCursor, upsert
from sync.errors import SyncError
from sync.event import parse_event
from sync.log import APPLIED

CURSOR = "rule_rechecks"
SCAN_LIMIT = 500


def recheck(node: Context, catalogue) -> int:
    """Re-check the 秒办 approvals applied since the last run; how many findings were recorded."""
    cursor = ScanCursor.get_or_none(ScanCursor.name == CURSOR)
    after = cursor.arrival if cursor else 0
    rows = (
        EventRecord.select(EventRecord.arrival, EventRecord.body)
        .where((EventRecord.arrival > after) & (EventRecord.type == ON_AUTHORITY) & (EventRecord.status == APPLIED))
        .order_by(EventRecord.arrival)
        .limit(SCAN_LIMIT)
    )
    disputed, last = 0, after
    for arrival, body in rows.tuples():
        last = arrival
        event = parse_event(bytes(body))
        if event.payload.get("basis") == "rule" and (reasons := _unmet_now(node, catalogue, event)):
            row = Application.get_by_id(event.entity.removeprefix("application:"))
            newest = catalogue.item(row.item_code)
            payload = {"rule": f"{newest.code}@{newest.version}", "reasons": reasons, "by": node.identity.station}
            node.events.append(RULE_DISPUTED, entity(row.number), payload, stream=case_stream(row))
            disputed += 1
    if last != after:
        upsert(ScanCursor, name=CURSOR, arrival=last)
    return disputed


def _unmet_now(node: Context, catalogue, event) -> list[str]:
    """The newest version's conditions that do not hold for this application; none if that version is the
    one it was filed under (the station evaluated it), or the hub cannot read the case."""
    row = Application.get_or_none(Application.number == event.entity.removeprefix("application:"))
    try:
        newest = catalogue.item(row.item_code)
        applicant = read_applicant(row.number, node.identity, node.keys)
    except (KeyError, AttributeError, SyncError, DomainError):
        return []
    if newest.version == row.item_version or not newest.eligibility:
        return []
    earlier = (
        Application.select(pw.fn.MAX(Application.filed_on))
        .where(
            (Application.id_lookup == row.id_lookup)
            & (Application.item_code == row.item_code)
            & (Application.number != row.number)
            & (Application.filed_on <= row.filed_on)
            & Application.state.not_in(NOT_GRANTED)
        )
        .scalar()
    )
    station = node.events.trust.binding(event.origin)
    known = facts(
        normalise_id_number(applicant.id_number),
        row.filed_on,
        station_region=station.region if station else "",
        last_same_item=earlier,
    )
    return unmet(newest.eligibility, known)
