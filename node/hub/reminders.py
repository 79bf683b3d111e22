"""到期提醒: once a day, after 08:30 Beijing, a county hub with an SMS gateway texts each clerk who gave a work
mobile how many of their body's running cases are overdue or due within three working days. The body is the
station whose installation accepted the case (the deciding body); the counts come from the deadline marks
the scheduler keeps. A reminder is an ordinary outbox row (`staff:<login>`), keyed by the day and the login, so
it goes out once a day however often this runs, and its `notice.sent` is recorded like a resident's."""

from __future__ import annotations

from collections import Counter

from node.cases.notices import enqueue
from node.context import Context
from node.rules.notices import REMIND_FROM, STAFF, beijing, is_quiet, staff_reminder
from storage.models import Application, DeadlineMark, EventRecord, Operator, Station
from sync.log import APPLIED

RUNNING = ("accepted", "in_review")


def queue_reminders(node: Context, now_ms: int) -> int:
    """Queue today's reminders, if it is time; how many were queued now (0 once today's are queued)."""
    at = beijing(now_ms)
    if at.time() < REMIND_FROM or is_quiet(now_ms):
        return 0
    signature = node.config.sms_signature or node.identity.name
    queued = 0
    for station, counts in _marked_by_body(node).items():
        body = Station.get_or_none(Station.code == station)
        clerks = Operator.select().where(
            (Operator.station == station)
            & (Operator.role == "clerk")
            & (Operator.disabled == False)  # noqa: E712 - peewee builds SQL from the comparison
            & Operator.phone.is_null(False)
        )
        for clerk in clerks:
            notice = staff_reminder(
                at.date(),
                clerk.username,
                clerk.name,
                body.name if body else station,
                overdue=counts["overdue"],
                due_soon=counts["due_soon"],
                signature=signature,
            )
            if notice is None:
                continue
            created = enqueue(notice, STAFF + clerk.username, 0, now_ms)
            queued += 1 if created else 0
    return queued


def _marked_by_body(node: Context) -> dict[str, Counter]:
    """Per deciding body (the station whose certificate signed the acceptance), its running cases marked
    overdue and due soon."""
    marked = (
        DeadlineMark.select(DeadlineMark.number, DeadlineMark.status)
        .join(Application, on=(Application.number == DeadlineMark.number))
        .where(Application.state.in_(RUNNING))
    )
    by_body: dict[str, Counter] = {}
    for number, status in marked.tuples():
        accepted = (
            EventRecord.select(EventRecord.origin)
            .where(
                (EventRecord.entity == f"application:{number}")
                & (EventRecord.type == "application.accepted")
                & (EventRecord.status == APPLIED)
            )
            .order_by(EventRecord.arrival.desc())
            .first()
        )
        binding = node.events.trust.binding(accepted.origin) if accepted else None
        if binding is not None:
            by_body.setdefault(binding.station, Counter())[status] += 1
    return by_body
