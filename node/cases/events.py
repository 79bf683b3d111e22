"""The vocabulary of application events: their types and entity names, what a timeline calls each, and
the two pure readings both intake and the projection make of an event (the state it leads to, its day).
"""

from __future__ import annotations

import datetime as dt

from node.rules.workflow import EVENT_NAMES, Outcome, next_state
from provisioning.authority import cross_region_stream
from provisioning.region import CHINA
from sync.hlc import unpack

FILED = "application.filed"
ATTACHED = "material.attached"
CONFLICT_SETTLED = "application.conflict_settled"
RULE_DISPUTED = "application.rule_disputed"  # a hub found a 秒办 not eligible under a newer rule: a clerk looks
RATING_ADDED = "application.rating_added"  # 追评: text added to a rating within its period, no new state
CONFLICT = "冲突："  # how a held-back transition's reason starts: `node.cases.conflicts` lists them
STEP_NAMES = {
    **EVENT_NAMES,
    ATTACHED: "上传材料扫描件",
    CONFLICT_SETTLED: "处理冲突",
    RULE_DISPUTED: "县级按新版办理条件复核不符",
    RATING_ADDED: "追加评价",
}  # what a timeline calls each event


def entity(number: str) -> str:
    return f"application:{number}"


def case_stream(row) -> str:
    """The stream an application's events go in: its station's, or for a 跨区域通办 case the station's stream
    for the county that handles it (the only stream of the station that county's link carries)."""
    return cross_region_stream(row.station, row.handler) if row.handler else row.station


def deciding_place(row) -> str:
    """Whose catalogue names the level that decides a case: the filing station's line, or the handling county."""
    return row.handler or row.station


def next_state_after(state: str | None, event_type: str, payload: dict) -> str:
    """The state an event leads to, its decision's outcome read from the payload; refuses an illegal step."""
    outcome = Outcome(bool(payload["approved"]), payload.get("reason", "")) if "approved" in payload else None
    return next_state(state, event_type, outcome, payload.get("procedure", ""))


def beijing_date(hlc: int) -> dt.date:
    """The Beijing day of an HLC timestamp: an event's day everywhere it is replayed."""
    return dt.datetime.fromtimestamp(unpack(hlc)[0] / 1000, CHINA).date()


# A decision's result files (批文, 证照 as PDF) are attachments whose material is "result:<title>": encrypted
# and carried like scans, so they reach the filing station, which prints them for the resident.
RESULT = "result:"


# An electronic licence (电子证照) is a result file the deciding body sealed: "licence:<title>", the sealed PDF.
LICENCE = "licence:"


def result_title(material: str) -> str | None:
    """The title of a result file (批文, 营业执照 …), or None for a material's scan."""
    return material.removeprefix(RESULT) if material.startswith(RESULT) else None


def licence_title(material: str) -> str | None:
    """The title of an electronic licence (a sealed result file), or None for anything else."""
    return material.removeprefix(LICENCE) if material.startswith(LICENCE) else None
