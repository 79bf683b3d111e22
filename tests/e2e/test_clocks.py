"""A village PC whose clock is wrong, against real hubs on loopback: the hubs see by how much, the county's
fleet page and dashboard raise it, the agent is told in words, and the round that cannot verify says why."""

from __future__ import annotations

import re
import time

import pytest

from harness.clock import FrozenClock
from harness.cluster import file
from harness.tree import open_node
from harness.web import logged_in
from node.cli import demo
from node.link import upstream
from storage.database import db
from storage.models import Application
from sync.errors import ClockDrift
from web import create_app

DAY_MS = 24 * 3600 * 1000
VILLAGE = "青山村便民服务代办点"


def _row(page: str, name: str) -> str:
    """The fleet page's line of one station, as text."""
    (row,) = [r for r in re.findall(r"<tr class=.*?</tr>", page, re.S) if name in r]
    return " ".join(re.sub(r"<[^>]+>", " ", row).split())


@pytest.mark.parametrize(("days", "words"), [(3, "快 3 天"), (-365, "慢 365 天")])
def test_a_village_clock_days_off_is_shown_with_its_real_offset_and_an_alarm_up_to_the_county(cluster, days, words):
    clock = FrozenClock(time.time_ns() // 1_000_000 + days * DAY_MS)
    village = cluster.configs["village"]
    if days > 0:
        upstream.sync_once(open_node(village, clock))  # the retry, signed with the parent's time, goes through
    else:  # a year behind, the parent's certificates are not yet valid by this PC's clock
        with pytest.raises(ClockDrift, match=f"本机时钟比上级服务器{words}，请校准电脑时间") as refused:
            upstream.sync_once(open_node(village, clock))
        assert "密钥" not in str(refused.value) and "i-" not in str(refused.value)  # words for staff, no internals
    db.close()
    assert cluster.sync("township") == 0  # the township reports its villages to the county

    county = f"http://127.0.0.1:{cluster.configs['county'].port}"
    admin = logged_in(county, "county.admin", demo.PASSWORD)
    fleet = admin.get(f"{county}/admin/", timeout=10).text
    row = _row(fleet, VILLAGE)
    assert words in row and "时钟不准" in row and "0 秒" not in row
    assert f"{VILLAGE}（{words}）" in fleet  # the warning above the table
    assert f"{VILLAGE}（{words}）" in admin.get(f"{county}/dashboard/", timeout=10).text

    node = open_node(village, clock)  # the agent's home page says it in words
    client = create_app(node=node).test_client()
    home = client.get("/").get_data(as_text=True)
    assert f"本机时钟比上级服务器{words}，请校准电脑时间" in home
    db.close()


def test_a_clock_set_right_again_clears_the_alarm_at_both_ends(cluster):
    clock = FrozenClock(time.time_ns() // 1_000_000 + 3 * DAY_MS)
    village = cluster.configs["village"]
    upstream.sync_once(open_node(village, clock))
    clock.set_ms(time.time_ns() // 1_000_000)
    upstream.sync_once(open_node(village, clock))
    assert open_node(village, clock).status().sync.clock_warning is None
    db.close()
    assert cluster.sync("township") == 0
    county = f"http://127.0.0.1:{cluster.configs['county'].port}"
    fleet = logged_in(county, "county.admin", demo.PASSWORD).get(f"{county}/admin/", timeout=10).text
    assert "时钟不准" not in _row(fleet, VILLAGE) and "个站点的电脑时钟" not in fleet


def test_numbers_keep_the_date_they_are_filed_on_after_the_clock_was_set_back(cluster):
    clock = FrozenClock(time.time_ns() // 1_000_000 + 3 * DAY_MS)
    village = cluster.configs["village"]
    file(open_node(village, clock))
    clock.set_ms(time.time_ns() // 1_000_000)  # put right: the village's HLC stays three days ahead
    node = open_node(village, clock)
    number = file(node)
    row = Application.get_by_id(number)
    assert number.split("-")[2] == f"{row.filed_on:%Y%m%d}"
    db.close()
