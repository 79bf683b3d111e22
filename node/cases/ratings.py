"""好差评 as the resident gives it: a rating (once) and additions to it (追评, within a period), through the
resident's own channels only. The rating page an agent turns toward the resident is opened by a one-time
token (kept hashed, local: the rating event is what travels); the public query page, which authenticates
the resident by the query code and the ID number's tail, calls `rate` and `add` with channel "query".
No operator's name or session is behind either: the event's payload names the channel, not a person."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from node.cases.events import RATING_ADDED, case_stream, entity, next_state_after
from node.cases.intake import IntakeRefused
from node.rules.ratings import ADDITION_DAYS, addition_problems, rating_problems
from node.rules.workflow import RATED, IllegalTransition
from storage.models import Application, RatingToken
from sync.log import EventLog

TOKEN_MINUTES = 30  # long enough to hand the screen over, short enough that a forgotten page dies


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _utc(now: dt.datetime) -> dt.datetime:
    return now.astimezone(dt.UTC).replace(tzinfo=None)


def issue_token(number: str, now: dt.datetime) -> str:
    """A new one-time token for rating `number`; refused if the application cannot be rated now."""
    row = _rateable(number)
    token = secrets.token_urlsafe(24)
    RatingToken.create(
        digest=_digest(token), number=row.number, expires_at=_utc(now) + dt.timedelta(minutes=TOKEN_MINUTES)
    )
    return token


def token_number(token: str, now: dt.datetime) -> str | None:
    """The application a token lets the resident rate; None if it is unknown, used or expired."""
    found = RatingToken.get_or_none(RatingToken.digest == _digest(token))
    if found is None or found.used or found.expires_at <= _utc(now):
        return None
    return found.number


def rate_by_token(events: EventLog, token: str, grade: str, reasons: list[str], comment: str, now: dt.datetime) -> str:
    """Rate through the token page: the token is spent in the rating's transaction, so it works once and a
    refused rating leaves it usable. Returns the application's number."""
    with events.transaction():
        number = token_number(token, now)
        if number is None:
            raise IntakeRefused(["评价链接无效、已使用或已过期，请工作人员重新打开评价页面"])
        rate(events, number, grade, reasons, comment, "token")
        RatingToken.update(used=True).where(RatingToken.digest == _digest(token)).execute()
    return number


def rate(events: EventLog, number: str, grade: str, reasons: list[str], comment: str, channel: str) -> None:
    """Record the resident's rating of `number`: refused in Chinese, nothing written, if it is malformed, a
    second rating, or the application is not at a state it can be rated in."""
    row = _rateable(number)
    if problems := rating_problems(grade, reasons, comment, channel):
        raise IntakeRefused(problems)
    payload = {"grade": grade, "reasons": list(reasons), "comment": comment.strip(), "channel": channel}
    events.append("application.rated", entity(number), payload, stream=case_stream(row))


def add(events: EventLog, number: str, comment: str, channel: str, today: dt.date) -> None:
    """An addition (追评) to the resident's rating, within the period after it; text only."""
    row = Application.get_or_none(Application.number == number)
    if row is None:
        raise IntakeRefused([f"没有办件 {number}"])
    if problems := addition_problems(comment, row.rated_on, today):
        raise IntakeRefused(problems)
    payload = {"comment": comment.strip(), "channel": channel}
    events.append(RATING_ADDED, entity(number), payload, stream=case_stream(row))


def addition_open(number: str, today: dt.date) -> bool:
    """Whether the resident may still add to their rating of `number` (追评) today."""
    row = Application.get_or_none(Application.number == number)
    return row is not None and row.rated_on is not None and not addition_problems("追评", row.rated_on, today)


def rateable_now(number: str) -> bool:
    """Whether the resident may rate `number` now: handed over and not yet rated (a page offers the form)."""
    try:
        _rateable(number)
    except IntakeRefused:
        return False
    return True


def _rateable(number: str) -> Application:
    row = Application.get_or_none(Application.number == number)
    if row is None:
        raise IntakeRefused([f"没有办件 {number}"])
    if row.state == RATED or row.rated_on is not None:
        raise IntakeRefused([f"此办件已评价过，一件只评一次；可在评价后 {ADDITION_DAYS} 天内追加评价"])
    try:
        next_state_after(row.state, "application.rated", {})
    except IllegalTransition as exc:
        raise IntakeRefused([str(exc)]) from exc
    return row
