"""What the query page says, in plain words: every state has a sentence, a provisional deadline says so,
and where to collect follows the state."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from node.cases import tracking
from node.rules.workflow import STATE_NAMES


def row(state: str, **fields) -> SimpleNamespace:
    return SimpleNamespace(state=state, due=None, due_provisional=False, accepted_on=None, **fields)


def test_every_state_is_told_in_plain_words():
    assert set(tracking.PLAIN_STATES) == set(STATE_NAMES)
    assert all("_" not in words for words in tracking.PLAIN_STATES.values())


def test_the_promise_follows_the_deadline_and_says_when_it_is_provisional():
    assert tracking._promise(row("submitted")) == "受理后按承诺时限计算"
    accepted = row("accepted")
    accepted.due, accepted.accepted_on = dt.date(2027, 2, 10), dt.date(2027, 1, 4)
    assert tracking._promise(accepted) == "承诺于 2027 年 2 月 10 日前办结"
    accepted.due_provisional = True
    assert tracking._promise(accepted).endswith("（暂定：当年节假日安排尚未公布）")
    accepted.state = "suspended"
    assert "特别程序结束后顺延" in tracking._promise(accepted)
    assert tracking._promise(row("approved")) == "已办结，不再计时"
    assert tracking._promise(row("withdrawn")) == "办件已结束"


def test_where_to_collect_follows_the_state():
    assert tracking._collect("approved", "青山村代办点") == "请带上回执和申请人身份证到青山村代办点领取结果"
    assert tracking._collect("in_review", "青山村代办点").startswith("办结后")
    assert tracking._collect("delivered", "青山村代办点") == "结果已送达申请人"


def test_a_decision_is_told_in_its_items_words_and_a_scan_without_its_material():
    assert tracking._what("application.decided", {"approved": False, "reason": "x"}, "licence") == "作出决定：不予许可"
    assert tracking._what("application.decided", {"approved": True}, "payment") == "作出决定：准予给付"
    assert tracking._what("material.attached", {"material": "hukou"}, "licence") == "收到材料（扫描件）"
    assert tracking._what("material.attached", {"material": "result:批文"}, "licence") == "出具办理结果：批文"
    licence = tracking._what("material.attached", {"material": "licence:营业执照"}, "licence")
    assert licence == "出具电子证照：营业执照（已加盖电子印章）"
    assert tracking._what("application.accepted", {"by": "zhou"}, "licence") == "受理"
