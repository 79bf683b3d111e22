"""node/rules/notices.py: which step makes which message, that no message carries an ID number, quiet hours."""

from __future__ import annotations

import datetime as dt
import random

from hypothesis import given
from hypothesis import strategies as st

from node.rules.notices import (
    ACCEPTED,
    CORRECTIONS,
    DECIDED,
    ID_NUMBER,
    LAPSED,
    NOT_ACCEPTED,
    READY,
    beijing,
    is_quiet,
    mask_name,
    next_send_ms,
    notices_for,
    retry_at_ms,
    staff_reminder,
)

SAMPLE_ID = "11010519491231002X"
STEPS = [
    "application.accepted",
    "application.corrections_requested",
    "application.not_accepted",
    "application.deferral_lapsed",
    "application.decided",
    "application.filed",
    "application.delivered",
]
DAY_MS = 86_400_000
TIMES = st.integers(min_value=1_700_000_000_000, max_value=1_900_000_000_000)


def _notices(event_type, payload, name="张三丰", eid="e1"):
    return notices_for(
        event_type, payload, eid=eid, number="511302-01-0001", name=name, service="营业执照", signature="顺庆区政务服务"
    )


def test_each_step_makes_its_notice():
    assert [n.kind for n in _notices("application.accepted", {})] == [ACCEPTED]
    assert [n.kind for n in _notices("application.not_accepted", {"reason": "不属本部门"})] == [NOT_ACCEPTED]
    assert [n.kind for n in _notices("application.decided", {"approved": True})] == [DECIDED, READY]
    assert [n.kind for n in _notices("application.decided", {"approved": False, "reason": "x"})] == [DECIDED]
    assert _notices("application.filed", {}) == []
    [ended] = _notices("application.deferral_lapsed", {"reason": "逾期未补齐户口簿"})
    assert ended.kind == LAPSED and "已终止办理（逾期未补齐户口簿）" in ended.text and "重新申请" in ended.text
    [fix] = _notices(
        "application.corrections_requested", {"items": ["身份证复印件", "租赁合同"], "deadline": "2026年3月20日"}
    )
    assert fix.kind == CORRECTIONS and "身份证复印件、租赁合同" in fix.text and "2026年3月20日前" in fix.text
    [fallback] = _notices("application.corrections_requested", {"reason": "缺少户口簿"})
    assert "缺少户口簿" in fallback.text


def test_text_is_signed_and_masked():
    [n] = _notices("application.accepted", {})
    assert n.text.startswith("【顺庆区政务服务】张*丰您好") and "张三丰" not in n.text
    assert mask_name("李四") == "李*" and mask_name("王") == "王"


def test_same_event_same_notice_id():
    a, b = _notices("application.accepted", {}, eid="x"), _notices("application.accepted", {}, eid="x")
    assert a == b and a[0].notice_id != _notices("application.accepted", {}, eid="y")[0].notice_id


@given(
    st.sampled_from(STEPS),
    st.text(max_size=40),
    st.lists(st.text(max_size=30), max_size=4),
    st.booleans(),
    st.text(min_size=1, max_size=6),
)
def test_no_message_ever_contains_an_id_number(step, reason, items, approved, name):
    payload = {"reason": reason + SAMPLE_ID, "items": [i + SAMPLE_ID for i in items], "approved": approved}
    for n in _notices(step, payload, name=name + SAMPLE_ID):
        assert not ID_NUMBER.search(n.text)


@given(TIMES)
def test_next_send_is_never_quiet_and_never_early(ms):
    at = next_send_ms(ms)
    assert at >= ms and not is_quiet(at) and at - ms <= 11 * 3_600_000
    if not is_quiet(ms):
        assert at == ms
    else:
        assert beijing(at).strftime("%H:%M:%S") == "08:00:00"


@given(TIMES, st.integers(min_value=1, max_value=30), st.integers())
def test_retry_is_later_and_outside_quiet_hours(ms, attempts, seed):
    at = retry_at_ms(ms, attempts, random.Random(seed))
    assert ms < at <= ms + DAY_MS and not is_quiet(at)


def test_a_clerks_reminder_counts_cases_names_nobody_and_is_one_per_day_and_login():
    day = dt.date(2026, 12, 7)
    reminder = staff_reminder(day, "zhou", "周科员", "顺庆区政务服务中心", overdue=2, due_soon=0, signature="顺庆政务")
    assert (
        reminder.text
        == "【顺庆政务】周科员您好，顺庆区政务服务中心在办件中2 件已超过承诺办结日，请登录一趟办优先办理。"
    )
    again = staff_reminder(day, "zhou", "周科员", "x", overdue=1, due_soon=1, signature="s")
    assert again.notice_id == reminder.notice_id  # the same day and login: the same key, sent once
    tomorrow = staff_reminder(day + dt.timedelta(days=1), "zhou", "周科员", "x", overdue=1, due_soon=0, signature="s")
    assert tomorrow.notice_id != reminder.notice_id
    assert staff_reminder(day, "zhou", "周科员", "x", overdue=0, due_soon=0, signature="s") is None
