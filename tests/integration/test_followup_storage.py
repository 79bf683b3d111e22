"""The rectification and call-back projections and the dashboard's figures on both engines (SQLite and
PostgreSQL): a case opened, taken through its steps and closed; a month's sample and a call; the figures."""

from __future__ import annotations

import datetime as dt

import pytest

from node.hub.callbacks import CallbackProjection
from node.hub.filters import Filters
from node.hub.followup import figures
from node.hub.rectifications import RectificationProjection
from node.rules.callbacks import RECORDED, SAMPLED
from node.rules.rectification import CLOSED, OPENED, RECTIFIED, REPORTED, REVISITED, VERIFIED
from storage.models import Callback, Rectification
from sync.projection import Registry, RuleViolation

COUNTY = "511302-01"
NUMBER = "511302001001-01-20261207-ABC00001"


@pytest.fixture
def county_log(make_log, signing_key, migrated):
    return make_log("i-county", signing_key, registry=Registry((RectificationProjection(), CallbackProjection())))


def test_projections_and_figures_on_both_engines(county_log):
    opened = {
        "number": NUMBER,
        "station": "511302001001-01",
        "item_code": "11511302MB10010137-0003",
        "department_code": "11511302MB10010137",
        "department": "南充市公安局顺庆区分局",
        "grade": "very_dissatisfied",
        "reasons": ["slow"],
        "comment": "等太久",
        "rated_on": "2026-12-07",
        "opened_on": "2026-12-07",
        "due": "2026-12-28",
    }
    with county_log.transaction():
        county_log.append(OPENED, f"rectification:{NUMBER}", opened, stream=COUNTY)
        for step, extra in ((VERIFIED, {"finding": "partly"}), (RECTIFIED, {}), (REPORTED, {})):
            county_log.append(step, f"rectification:{NUMBER}", {"note": "已办", **extra}, stream=COUNTY)
    with pytest.raises(RuleViolation):
        county_log.append(OPENED, f"rectification:{NUMBER}", opened, stream=COUNTY)
    revisit = {"note": "认可", "reached": True, "satisfied": True}
    county_log.append(REVISITED, f"rectification:{NUMBER}", revisit, stream=COUNTY)
    assert Rectification.get_by_id(NUMBER).state == CLOSED

    sample = {"month": "2026-11", "share_percent": 5, "minimum": 3, "closed": 1, "drawn_on": "2026-12-07"}
    sample["cases"] = [
        {"number": NUMBER, "station": "511302001001-01", "window": COUNTY, "item_code": "x", "decided_on": "2026-11-30"}
    ]
    entity = f"callback:{COUNTY}:2026-11"
    county_log.append(SAMPLED, entity, sample, stream=COUNTY)
    call = {
        "month": "2026-11",
        "number": NUMBER,
        "reached": True,
        "satisfied": False,
        "problems": ["bribery"],
        "comment": "",
    }
    county_log.append(RECORDED, entity, call, stream=COUNTY)
    assert Callback.get_by_id(("2026-11", NUMBER)).reached

    summary, tables = figures("511302", Filters(), dt.date(2026, 12, 31), {}, {})
    assert (summary.rectification_rate, summary.callback_rate, summary.overdue) == ("100.0%", "100.0%", 0)
    by_window = next(t for t in tables if t[0] == "callbacks_windows")
    assert by_window[3] == [(COUNTY, COUNTY, 1, 1, "100.0%", 0, 1, 0, 0, 1, 0, 0)]
    later, _ = figures("511302", Filters(since=dt.date(2027, 1, 1)), dt.date(2027, 1, 2), {}, {})
    assert (later.opened, later.rectification_rate, later.sampled) == (0, "—", 0)

    county_log.rebuild()
    assert Rectification.get_by_id(NUMBER).state == CLOSED and Callback.get_by_id(("2026-11", NUMBER)).tries == 1
