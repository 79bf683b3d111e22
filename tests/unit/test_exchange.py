"""The province's exchange format, pinned by golden files: a change to the mapping shows here as a diff to read
and accept (`ONETRIP_GOLDEN=write` rewrites them), never silently at the province."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from pathlib import Path

import pytest

from node.hub import exchange

GOLDEN = Path(__file__).parent.parent / "golden"
DAY = dt.date(2026, 12, 1)

RUNNING = exchange.CaseFacts(
    number="511302001001-01-20261201-AB1200001",
    item_code="11511302MB1002024J-0004",
    item_version=1,
    item_name="社会保障卡申领",
    department="南充市顺庆区人力资源和社会保障局",
    station="511302001001-01",
    station_name="青山村便民服务代办点",
    handler=None,
    masked_name="张*英",
    masked_id="110***********002X",
    filed_on=DAY,
    accepted_on=DAY + dt.timedelta(days=1),
    due=DAY + dt.timedelta(days=8),
    state="accepted",
    decided_on=None,
    decision_reason=None,
    handling_days=None,
    steps=(
        exchange.CaseStep("application.filed", DAY, "青山村便民服务代办点"),
        exchange.CaseStep("application.accepted", DAY + dt.timedelta(days=1), "顺庆区政务服务中心"),
    ),
)
DECIDED = exchange.CaseFacts(
    **{
        **RUNNING.__dict__,
        "handler": "511303",
        "state": "denied",
        "decided_on": DAY + dt.timedelta(days=3),
        "decision_reason": "不符合申领条件",
        "handling_days": 2,
        "steps": (
            *RUNNING.steps,
            exchange.CaseStep("application.decided", DAY + dt.timedelta(days=3), "高坪区政务服务中心", False),
        ),
    }
)


@pytest.mark.parametrize(("name", "case"), [("running", RUNNING), ("decided", DECIDED)])
def test_the_record_is_the_golden_one(name, case):
    made = exchange.record(case)
    path = GOLDEN / f"exchange-{name}.json"
    if os.environ.get("ONETRIP_GOLDEN") == "write":
        path.write_text(json.dumps(made, ensure_ascii=False, indent=2, sort_keys=True) + "\n", "utf-8")
    assert made == json.loads(path.read_text("utf-8"))


def test_a_record_has_one_digest_and_a_changed_one_another_key():
    assert exchange.digest(exchange.record(RUNNING)) == exchange.digest(exchange.record(RUNNING))
    first, later = (exchange.digest(exchange.record(c)) for c in (RUNNING, DECIDED))
    assert first != later
    assert exchange.idempotency_key(RUNNING.number, first) != exchange.idempotency_key(RUNNING.number, later)


def test_an_id_number_a_clerk_typed_into_the_reason_does_not_reach_the_province():
    told = exchange.record(dataclasses.replace(DECIDED, decision_reason="申请人11010519491231002X已领卡"))
    assert told["result"]["reason"] == "申请人110***********002X已领卡"


def test_a_record_with_more_steps_has_a_higher_version():
    assert exchange.record(DECIDED)["version"] == exchange.record(RUNNING)["version"] + 1
