"""办件查询: a resident (or whoever holds the receipt) follows a case without a login, by its query code or
its number and the last four characters of the applicant's ID number.

What is told is what a receipt's holder may know: the state in plain words, the timeline (which body did
what, when: station names, never an operator's login), the promised date, what is still missing, and where
to collect the result; of personal data only the masked name. Every node answers for the cases it holds:
a station's kiosk for its own, even offline, a county hub for its county, the city for all. The ID tail is
checked against the row's `id_tail_check` (`node.cases.intake.id_tail_check`), so the city, which cannot
decrypt, checks it too.

Guessing is held back twice (`QueryGuard`): a case takes a few wrong tails an hour and is then locked for
that hour, and one client address a few dozen lookups in ten minutes. An unknown code costs the same scrypt
and the same comparison as a wrong tail and is answered in the same words: the answer tells nobody whether
a code exists.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hmac
import re
from dataclasses import dataclass

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from node.cases.events import ATTACHED, CONFLICT_SETTLED, STEP_NAMES, licence_title, result_title
from node.cases.intake import id_tail_check
from node.cases.queries import applied_events, body_of, case_items, station_name
from node.catalogue.model import Catalogue
from node.errors import DomainError
from node.rules import deferrals, querycode
from node.rules.decisions import DEFAULT_KIND, decision_words
from node.rules.identifiers import normalise_id_number
from node.rules.workflow import (
    ACCEPTED,
    APPROVED,
    BASES,
    CORRECTIONS,
    DELIVERED,
    DENIED,
    DRAFT,
    IN_REVIEW,
    LAPSED,
    NOT_ACCEPTED,
    ON_AUTHORITY,
    RATED,
    SUBMITTED,
    SUSPENDED,
    WITHDRAWN,
    is_closed,
)
from provisioning.region import CHINA
from storage.models import Application

PER_CASE = "5 per hour"  # wrong tails a case takes before it is locked for the rest of the hour
PER_CLIENT = "30 per 10 minutes"  # lookups one address may make, right or wrong
NUMBER = re.compile(r"[0-9A-Z]+(-[0-9A-Z]+){2,}")  # 办件编号: station code, date, installation and counter
TAIL = re.compile(r"\d{3}[\dX]")
_NOBODY_SALT = "0" * querycode.LENGTH  # no code is made of zeros (0 is not in the alphabet)


@functools.cache
def _nobody() -> str:
    """What an unknown code's tail is compared with: a check like any other, made once, when first needed."""
    return id_tail_check(_NOBODY_SALT, "0000")


PLAIN_STATES = {
    DRAFT: "尚未提交",
    SUBMITTED: "材料已提交，等待受理",
    ACCEPTED: "已受理，等待审查",
    CORRECTIONS: "需要补正材料：请按下面的清单补齐",
    NOT_ACCEPTED: "不予受理，办件已结束",
    IN_REVIEW: "审查中",
    SUSPENDED: "特别程序中（听证、检验检测、鉴定或专家评审），这段时间不计入办理时限",
    APPROVED: "已办结：准予许可",
    DENIED: "已办结：不予许可",
    DELIVERED: "已办结，结果已送达",
    RATED: "已办结，结果已送达并已评价",
    WITHDRAWN: "已撤回，办件已结束",
    LAPSED: "容缺材料逾期未补齐，办件已终止",
}


class QueryRefused(DomainError):
    """A lookup answered with no case: bad input (400), no match (404) or too many tries (429)."""

    code, http_status = "query_refused", 400

    def __init__(self, message: str, retry_after_s: int | None = None):
        super().__init__(message)
        self.details = {"retry_after_s": retry_after_s} if retry_after_s is not None else None


class NoMatch(QueryRefused):
    code, http_status = "no_match", 404


class TooMany(QueryRefused):
    code, http_status = "too_many_queries", 429


@dataclass(frozen=True)
class Line:
    """One line of the public timeline: when (Beijing time), which body, what it did."""

    at: dt.datetime
    body: str
    what: str


@dataclass(frozen=True)
class Tracking:
    """What the query page tells about one case."""

    number: str
    item_name: str
    masked_name: str
    state: str  # in plain words
    timeline: tuple[Line, ...]
    due: dt.date | None
    due_provisional: bool
    promise: str  # the promised date in words
    missing: tuple[str, ...]  # a 补正 request's items (or its reason) while corrections are awaited
    collect: str  # where and how to collect the result
    results: tuple[str, ...] = ()  # the titles of the decision's result files (批文, 证照), ready to print
    licences: tuple[str, ...] = ()  # those sealed by the deciding body as 电子证照, checked at /verify
    parts: tuple[Part, ...] = ()  # 一件事: each item of the case, decided by its own department
    deferred: tuple[str, ...] = ()  # 容缺: materials accepted without, still to bring
    deferral_note: str = ""  # by when, and what follows if they are not brought


@dataclass(frozen=True)
class Part:
    """One item of a 一件事 case as the query page lists it."""

    number: str
    item_name: str
    state: str
    promise: str


class QueryGuard:
    """The limits on guessing, in this process's memory (the `limits` library's moving windows): a hub that
    serves from several processes multiplies the per-client allowance by their number; the per-case lock,
    which is what protects a resident, still locks a case after at most 5 wrong tails per process."""

    def __init__(self, per_case: str = PER_CASE, per_client: str = PER_CLIENT):
        self.per_case, self.per_client = parse(per_case), parse(per_client)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def count_client(self, client: str) -> None:
        if not self.limiter.hit(self.per_client, "client", client):
            wait = self._wait(self.per_client, "client", client)
            raise TooMany(f"查询太频繁，请于 {_clock(wait)}（北京时间）后再试", wait)

    def refuse_if_locked(self, case: str) -> None:
        if not self.limiter.test(self.per_case, "case", case):
            wait = self._wait(self.per_case, "case", case)
            raise TooMany(
                f"这个查询码或办件编号已连续输错 {self.per_case.amount} 次，查询已锁定，"
                f"请于 {_clock(wait)}（北京时间）后再试",
                wait,
            )

    def count_wrong(self, case: str) -> None:
        self.limiter.hit(self.per_case, "case", case)

    def _wait(self, limit, *keys: str) -> int:
        reset = self.limiter.get_window_stats(limit, *keys).reset_time
        return max(1, int(reset - dt.datetime.now(dt.UTC).timestamp()) + 1)


def _clock(seconds: int) -> str:
    return (dt.datetime.now(CHINA) + dt.timedelta(seconds=seconds)).strftime("%H:%M")


def look_up(guard: QueryGuard, catalogue: Catalogue, *, code_or_number: str, id_tail: str, client: str) -> Tracking:
    """The case this node holds under `code_or_number` whose applicant's ID number ends in `id_tail`;
    refused in plain Chinese otherwise, in the same words whether the code is unknown or the tail wrong."""
    guard.count_client(client)
    tail = normalise_id_number(id_tail or "")
    if not TAIL.fullmatch(tail):
        raise QueryRefused("请填写申请人身份证号的后四位（数字，最后一位可能是 X）")
    key, row = _find(code_or_number or "")
    guard.refuse_if_locked(key)
    known = row is not None and bool(row.id_tail_check)
    salt, expected = (row.query_code, row.id_tail_check) if known else (_NOBODY_SALT, _nobody())
    matches = hmac.compare_digest(id_tail_check(salt, tail), expected)  # always the same work
    if not (matches and known):
        guard.count_wrong(key)
        raise NoMatch(
            "没有查到：请核对查询码（或办件编号）和身份证号后四位。"
            f"连续输错 {guard.per_case.amount} 次，查询将锁定 1 小时"
        )
    if row.case_number:
        return _case(case_items(row.case_number), catalogue)
    return _tracking(row, catalogue)


def _case(rows: list[Application], catalogue: Catalogue) -> Tracking:
    """一件事 as one case: its items' timelines in one, what is still missing of each, the latest promised
    date, and each item's own state; 办结 once every item is."""
    each = [_tracking(row, catalogue) for row in rows]
    bundle = catalogue.bundles.get(rows[0].bundle or "")
    closed = sum(1 for row in rows if is_closed(row.state))
    latest = max((row for row in rows if row.due), key=lambda row: row.due, default=rows[0])
    return dataclasses.replace(
        each[0],
        number=rows[0].case_number,
        item_name="一件事：" + (bundle.name if bundle else rows[0].bundle or ""),
        state="已全部办结" if closed == len(rows) else f"办理中：{len(rows)} 个事项中已办结 {closed} 个",
        timeline=tuple(
            sorted(
                (Line(line.at, line.body, f"{part.item_name}：{line.what}") for part in each for line in part.timeline),
                key=lambda line: line.at,
            )
        ),
        due=latest.due,
        due_provisional=latest.due_provisional,
        promise=_promise(latest) if closed < len(rows) else "已全部办结，不再计时",
        missing=tuple(f"{part.item_name}：{item}" for part in each for item in part.missing),
        results=tuple(title for part in each for title in part.results),
        licences=tuple(title for part in each for title in part.licences),
        parts=tuple(Part(part.number, part.item_name, part.state, part.promise) for part in each),
    )


def _find(text: str) -> tuple[str, Application | None]:
    """What was typed, read as a query code or as a number; the key its wrong tails are counted under."""
    code = querycode.normalise(text)
    if len(code) == querycode.LENGTH:
        if problem := querycode.check(code):
            raise QueryRefused(problem)
        row = Application.get_or_none(Application.query_code == code)
    elif NUMBER.fullmatch(number := text.strip().upper()) and len(number) <= 64:
        row = Application.get_or_none(Application.number == number)
    else:
        raise QueryRefused("请填写回执上的查询码（10 位）或办件编号")
    return (row.number if row is not None else code if len(code) == querycode.LENGTH else number), row


def _tracking(row: Application, catalogue: Catalogue) -> Tracking:
    events = applied_events(row.number)
    try:
        item = catalogue.item(row.item_code, row.item_version)
        item_name, kind = item.name, item.kind
    except KeyError:
        item_name, kind = f"事项 {row.item_code}", DEFAULT_KIND
    station = station_name(row.station)
    lines = tuple(
        Line(dt.datetime.fromtimestamp((e.hlc >> 16) / 1000, CHINA), body_of(e.origin), _what(e.type, e.payload, kind))
        for e in events
        if e.type != CONFLICT_SETTLED  # a clerk's note, not a step
    )
    return Tracking(
        number=row.number,
        item_name=item_name,
        masked_name=row.masked_name or "",
        state=_state_words(row.state, kind),
        timeline=lines,
        due=row.due,
        due_provisional=row.due_provisional,
        promise=_promise(row),
        missing=_missing(row, events),
        collect=_collect(row.state, station),
        results=_titles(events, result_title),
        licences=_titles(events, licence_title),
        **_deferred(row),
    )


def _state_words(state: str, kind: str) -> str:
    """The state in plain words; a decision in the words of the item's kind (准予给付, 予以确认 …)."""
    if state in (APPROVED, DENIED):
        return "已办结：" + decision_words(kind, state == APPROVED)
    return PLAIN_STATES.get(state, state)


def _deferred(row: Application) -> dict:
    """容缺 materials still owed while the case can take them, with their last day in words."""
    held = deferrals.decode(row.deferral)
    if held is None or not held.owed or row.state not in (ACCEPTED, IN_REVIEW, SUSPENDED, APPROVED, DENIED):
        return {}
    due = held.due
    note = (
        f"受理时容缺，请于 {due.year} 年 {due.month} 月 {due.day} 日前（含当日）携带回执补齐到原收件站点或窗口；"
        "逾期未补齐的，受理单位可以按容缺承诺书终止办理"
    )
    return {"deferred": tuple(item.name for item in held.owed), "deferral_note": note}


def _titles(events: list, title_of) -> tuple[str, ...]:
    return tuple(t for e in events if e.type == ATTACHED and (t := title_of(e.payload.get("material", ""))))


def _what(event_type: str, payload: dict, kind: str) -> str:
    if event_type == "application.accepted" and payload.get("deferral"):
        return (
            "受理（容缺受理：" + "、".join(i.get("name", "") for i in payload["deferral"].get("items", [])) + " 待补）"
        )
    if event_type == "application.decided":
        return "作出决定：" + decision_words(kind, bool(payload.get("approved")))
    if event_type == ON_AUTHORITY:
        return f"当场办结：{decision_words(kind, True)}（{BASES.get(payload.get('basis'), '按授权')}）"
    if event_type == ATTACHED:
        material = payload.get("material", "")
        if (title := licence_title(material)) is not None:
            return f"出具电子证照：{title}（已加盖电子印章）"
        if (title := result_title(material)) is not None:
            return f"出具办理结果：{title}"
        return "收到材料（扫描件）"
    return STEP_NAMES.get(event_type, event_type)


def _missing(row: Application, events: list) -> tuple[str, ...]:
    """While corrections are awaited: the last 补正 request's items, or its reason where it lists none."""
    if row.state != CORRECTIONS:
        return ()
    asked = [e.payload for e in events if e.type == "application.corrections_requested"]
    if not asked:
        return ()
    items = asked[-1].get("items")
    if items:
        return tuple(str(i) for i in items)
    return (asked[-1]["reason"],) if asked[-1].get("reason") else ()


def _promise(row: Application) -> str:
    if is_closed(row.state):
        return "已办结，不再计时" if row.state not in (NOT_ACCEPTED, WITHDRAWN, LAPSED) else "办件已结束"
    if row.due is None:
        return "受理后按承诺时限计算" if row.accepted_on is None else "承诺时限待本站收到事项清单后计算"
    said = f"承诺于 {row.due.year} 年 {row.due.month} 月 {row.due.day} 日前办结"
    if row.state == SUSPENDED:
        said += "（特别程序结束后顺延）"
    return said + ("（暂定：当年节假日安排尚未公布）" if row.due_provisional else "")


def _collect(state: str, station: str) -> str:
    if state in (DELIVERED, RATED):
        return "结果已送达申请人"
    if state in (NOT_ACCEPTED, WITHDRAWN, LAPSED):
        return f"如有疑问，请到{station}咨询"
    if state in (APPROVED, DENIED):
        return f"请带上回执和申请人身份证到{station}领取结果"
    return f"办结后请带上回执和申请人身份证到{station}领取结果"
