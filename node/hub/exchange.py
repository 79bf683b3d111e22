"""The province's exchange format: one application as the city forwards it to the provincial 一体化政务服务平台.

Pure: a case's facts in, a JSON-ready record out, in three parts after the national data-exchange
standard's sections: 办件基本信息 (`basic`), 办件过程信息 (`process`, one entry per step) and 办件结果信息
(`result`, once decided). Only what the city itself holds in clear goes: the city cannot read a resident's
sealed fields (DESIGN invariant 12), so the applicant appears masked, as on every paper, and the province
finds the person through the case number and the query code's system, not through us. Golden files
(`tests/golden/exchange-*.json`) pin the format; `digest` tells whether a record changed since it was sent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from node.rules.notices import scrub_id_numbers
from node.rules.workflow import EVENT_NAMES, STATE_NAMES

FORMAT = "onetrip-exchange/2"  # 2: `version`, by which the province keeps the newest


@dataclass(frozen=True)
class CaseStep:
    event_type: str
    on: dt.date  # Beijing day
    body: str  # the station whose installation signed it
    approved: bool | None = None


@dataclass(frozen=True)
class CaseFacts:
    """What the city holds of one application, all of it in clear there."""

    number: str
    item_code: str
    item_version: int
    item_name: str
    department: str
    station: str
    station_name: str
    handler: str | None  # 跨区域通办: the county that handles it
    masked_name: str
    masked_id: str
    filed_on: dt.date
    accepted_on: dt.date | None
    due: dt.date | None
    state: str
    decided_on: dt.date | None
    decision_reason: str | None
    handling_days: int | None
    steps: tuple[CaseStep, ...]


def record(case: CaseFacts) -> dict:
    """The exchange record of one application, as the province receives it."""
    decision = next((s for s in reversed(case.steps) if s.approved is not None), None)
    return {
        "format": FORMAT,
        # Steps are only ever added: the province keeps a case's record of the highest version, so an older
        # request it handles late (its answer timed out here) never replaces a newer one.
        "version": len(case.steps),
        "basic": {  # 办件基本信息
            "case_number": case.number,
            "item_code": case.item_code,
            "item_version": case.item_version,
            "item_name": case.item_name,
            "department": case.department,
            "received_at": {"station_code": case.station, "station_name": case.station_name},
            "handled_by_county": case.handler,  # 跨区域通办: 收件地 is the station, 办理地 this county
            "applicant": {"name_masked": case.masked_name, "id_number_masked": case.masked_id},
            "filed_on": case.filed_on.isoformat(),
            "accepted_on": _day(case.accepted_on),
            "promised_date": _day(case.due),
            "state": case.state,
            "state_name": STATE_NAMES.get(case.state, case.state),
        },
        "process": [  # 办件过程信息
            {
                "step": s.event_type,
                "step_name": EVENT_NAMES.get(s.event_type, s.event_type),
                "on": s.on.isoformat(),
                "by": s.body,
            }
            for s in case.steps
        ],
        "result": None  # 办件结果信息
        if case.decided_on is None
        else {
            "decided_on": case.decided_on.isoformat(),
            "approved": decision.approved if decision else None,
            # a clerk's free text: an ID number typed into it is masked, as in the resident's SMS
            "reason": scrub_id_numbers(case.decision_reason) if case.decision_reason else case.decision_reason,
            "handling_working_days": case.handling_days,
        },
    }


def encode(exchanged: dict) -> bytes:
    """The bytes sent: canonical JSON (sorted keys, no spaces), so one record always has one digest."""
    return json.dumps(exchanged, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def digest(exchanged: dict) -> str:
    return hashlib.sha256(encode(exchanged)).hexdigest()


def idempotency_key(number: str, record_digest: str) -> str:
    """One key per version of a case's record: the province keeps the first of each, however often it arrives."""
    return hashlib.sha256(f"{number}\n{record_digest}".encode()).hexdigest()[:40]


def _day(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None
