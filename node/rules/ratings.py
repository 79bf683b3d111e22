"""好差评: the resident's grade of the service, on the national 好差评 system's five-grade scale.

Pure. The resident rates (never the agent in their name); a low grade asks why, from a standard list and
in their own words. The grades count as 5..1 stars so that the statistics (`node.rules.tally`) keep their
meaning; events from before the grades carried stars, and `grade_of_stars` reads them.
"""

from __future__ import annotations

import datetime as dt

# code -> the words the resident reads, best first; the stars are 5..1 in this order.
GRADES = {
    "very_satisfied": "非常满意",
    "satisfied": "满意",
    "basically_satisfied": "基本满意",
    "dissatisfied": "不满意",
    "very_dissatisfied": "非常不满意",
}
STARS = {code: 5 - i for i, code in enumerate(GRADES)}
LOW_GRADES = frozenset(code for code, stars in STARS.items() if stars <= 2)  # 差评: a reason is asked

# code -> words: why a resident is dissatisfied, as the 好差评 forms ask it.
REASONS = {
    "slow": "办事时间长",
    "materials": "材料要求多或反复跑",
    "attitude": "服务态度差",
    "unclear": "政策解释不清",
    "system": "系统或设备故障",
    "other": "其他",
}
ADDITION_DAYS = 15  # after the first rating, the resident may add to it (追评) for this long
COMMENT_LIMIT = 200
# The resident's channels: the rating page an agent turns toward them, the public query page; as a timeline names who.
CHANNELS = {"token": "群众本人，评价页面", "query": "群众本人，办件查询页面"}


def grade_of_stars(stars: int) -> str:
    """The grade an old event's stars stand for."""
    for code, value in STARS.items():
        if value == stars:
            return code
    raise ValueError(stars)


def rating_problems(grade: str, reasons: list[str] | tuple[str, ...], comment: str, channel: str) -> list[str]:
    """What is wrong with a rating, in Chinese; empty if it may be recorded."""
    problems = []
    if grade not in GRADES:
        problems.append("请选择评价：" + "、".join(GRADES.values()))
    if channel not in CHANNELS:
        problems.append("评价只能由群众本人通过评价页面或办件查询页面作出")
    unknown = [r for r in reasons if r not in REASONS]
    if unknown:
        problems.append("不认识的原因：" + "、".join(map(str, unknown)))
    if len(set(reasons)) != len(reasons):
        problems.append("同一原因只能选一次")
    if grade in LOW_GRADES and not reasons:
        problems.append(f"选择“{GRADES[grade]}”时请至少选择一项原因")
    if grade in GRADES and grade not in LOW_GRADES and reasons:
        problems.append("只有不满意或非常不满意时才选择原因")
    if "other" in reasons and not comment.strip():
        problems.append("选择“其他”时请写明原因")
    if len(comment) > COMMENT_LIMIT:
        problems.append(f"意见不能超过 {COMMENT_LIMIT} 个字")
    return problems


def addition_problems(comment: str, rated_on: dt.date | None, day: dt.date) -> list[str]:
    """What is wrong with an addition (追评) made on `day` to a rating made on `rated_on`."""
    if rated_on is None:
        return ["办件尚未评价，不能追加评价"]
    problems = []
    if day > rated_on + dt.timedelta(days=ADDITION_DAYS):
        problems.append(f"评价后 {ADDITION_DAYS} 天内才能追加评价（已于 {rated_on.isoformat()} 评价）")
    if not comment.strip():
        problems.append("追加评价请写明内容")
    if len(comment) > COMMENT_LIMIT:
        problems.append(f"意见不能超过 {COMMENT_LIMIT} 个字")
    return problems


def describe(grade: str, reasons: list[str] | tuple[str, ...]) -> str:
    """A rating as a person reads it: the grade's words, then its reasons."""
    words = GRADES.get(grade, grade)
    return f"{words}（{'、'.join(REASONS.get(r, r) for r in reasons)}）" if reasons else words
