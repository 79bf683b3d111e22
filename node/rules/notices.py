"""What a resident is told by SMS at each step, and when it may be sent.

Pure: an application event in, the notices it makes out; a clock reading in, the next moment a
message may go. A notice is keyed by its triggering event and its kind, so a replayed or rebuilt
event makes the same notice again and a gateway that dedupes by that key delivers it once.
A message carries the number, the masked name and the step, never an ID number: an SMS is read on
a lock screen and kept by carriers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import re
from dataclasses import dataclass

from node.rules.backoff import backoff_ms
from node.rules.decisions import DEFAULT_KIND, decision_words
from provisioning.region import CHINA

ACCEPTED, CORRECTIONS, NOT_ACCEPTED, DECIDED, READY = "受理", "补正", "不予受理", "办结", "可领取"
LAPSED = "容缺终止"  # a 容缺 case ended because what was owed was not brought by its last day
STEPS = (ACCEPTED, CORRECTIONS, NOT_ACCEPTED, LAPSED, DECIDED, READY)  # in the order a case goes through them

QUIET_FROM, QUIET_UNTIL = dt.time(21, 0), dt.time(8, 0)  # no message between 21:00 and 08:00 Beijing
# A station prints a notice its hub has not been heard to send this long after it could first go out: a hub
# in reach sends within minutes and says so at the next sync; four hours is an outage, not a slow link.
PRINT_AFTER_MS = 4 * 3600 * 1000

# An 18-character ID number (17 digits and a digit or X); no text we send may contain one.
ID_NUMBER = re.compile(r"\d{17}[\dXx]")


@dataclass(frozen=True)
class Notice:
    """One message for one resident: its key (the idempotency key at the gateway), kind and text."""

    notice_id: str
    kind: str
    text: str


def notice_id(eid: str, kind: str) -> str:
    """The same event and kind give the same id, wherever and however often it is computed."""
    return hashlib.sha256(f"{eid}\n{kind}".encode()).hexdigest()[:32]


def mask_name(name: str) -> str:
    """The surname and, for names of three or more characters, the last character: 张*、张*明."""
    name = name.strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def scrub_id_numbers(text: str) -> str:
    """Anything that looks like an ID number in free text (a reason, an item) is masked."""
    return ID_NUMBER.sub(lambda m: m.group(0)[:3] + "*" * 11 + m.group(0)[-4:], text)


def notices_for(
    event_type: str,
    payload: dict,
    *,
    eid: str,
    number: str,
    name: str,
    service: str,
    signature: str,
    kind: str = DEFAULT_KIND,
) -> list[Notice]:
    """The notices an application event makes: 受理, 补正 (items and deadline), 不予受理, 容缺终止, 办结 and,
    when the decision approves, 可领取 (the result is ready at the hall); none for other steps."""
    who = mask_name(name)
    head = f"【{signature}】{who}您好，您的{service}（办件号{number}）"
    texts: list[tuple[str, str]] = []
    if event_type == "application.accepted":
        said, deferral = f"{head}已受理。", payload.get("deferral") or {}
        if deferral.get("items") and deferral.get("deadline"):  # 容缺: what is owed and by when, as signed for
            owed = "、".join(str(item.get("name", "")) for item in deferral["items"])
            due = dt.date.fromisoformat(deferral["deadline"])
            said += scrub_id_numbers(f"容缺材料{owed}请于{due.month}月{due.day}日前补齐，逾期可能终止办理。")
        texts.append((ACCEPTED, said))
    elif event_type == "application.corrections_requested":
        items = payload.get("items") or []
        what = "、".join(str(i) for i in items) if items else str(payload.get("reason", "")).strip()
        deadline = str(payload.get("deadline", "")).strip()
        text = f"{head}需补正材料：{what or '请咨询窗口'}。"
        if deadline:
            text += f"请于{deadline}前补正。"
        texts.append((CORRECTIONS, text))
    elif event_type == "application.not_accepted":
        reason = str(payload.get("reason", "")).strip()
        texts.append((NOT_ACCEPTED, f"{head}不予受理" + (f"，理由：{reason}。" if reason else "。")))
    elif event_type == "application.deferral_lapsed":
        reason = str(payload.get("reason", "")).strip()
        text = f"{head}因容缺材料未在承诺期限内补齐，已终止办理" + (f"（{reason}）" if reason else "")
        texts.append((LAPSED, text + "。如需办理，请备齐材料后重新申请。"))
    elif event_type == "application.decided":
        approved = bool(payload.get("approved"))
        words = decision_words(kind, approved)
        texts.append((DECIDED, f"{head}已办结。" if words == "已办结" else f"{head}已办结，结果：{words}。"))
        if approved:
            texts.append((READY, f"{head}办理结果已可领取，请携带本人身份证件到窗口领取。"))
    return [Notice(notice_id(eid, kind), kind, scrub_id_numbers(text)) for kind, text in texts]


REMINDER = "到期提醒"
STAFF = "staff:"  # a staff reminder's `number` in the outbox: "staff:<login>", not an application
REMIND_FROM = dt.time(8, 30)  # a clerk's daily reminder goes out after the working day has begun


def staff_reminder(
    day: dt.date, username: str, name: str, body: str, *, overdue: int, due_soon: int, signature: str
) -> Notice | None:
    """A clerk's reminder of the day: how many of their body's running cases are overdue or due within three
    working days; none when there are neither. Counts only: no resident is named in it."""
    parts = ([f"{overdue} 件已超过承诺办结日"] if overdue else []) + (
        [f"{due_soon} 件将在 3 个工作日内到期"] if due_soon else []
    )
    if not parts:
        return None
    text = f"【{signature}】{name}您好，{body}在办件中" + "，".join(parts) + "，请登录一趟办优先办理。"
    return Notice(notice_id(f"{day.isoformat()}\n{username}", REMINDER), REMINDER, text)


def beijing(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, CHINA)


def is_quiet(ms: int) -> bool:
    t = beijing(ms).time()
    return t >= QUIET_FROM or t < QUIET_UNTIL


def next_send_ms(ms: int) -> int:
    """`ms` itself outside quiet hours; else 08:00 Beijing of the morning that ends them."""
    if not is_quiet(ms):
        return ms
    at = beijing(ms)
    day = at.date() if at.time() < QUIET_UNTIL else at.date() + dt.timedelta(days=1)
    return int(dt.datetime.combine(day, QUIET_UNTIL, CHINA).timestamp() * 1000)


def print_due_ms(ms: int) -> int:
    """When a notice made at `ms` becomes printable at its station, if no word of its SMS has come back."""
    return next_send_ms(ms) + PRINT_AFTER_MS


def retry_at_ms(ms: int, attempts: int, rng: random.Random) -> int:
    """When to try again after `attempts` failures: exponential backoff with full jitter, then quiet hours."""
    return next_send_ms(backoff_ms(ms, attempts, rng))
