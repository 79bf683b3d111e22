"""差评整改 and 办件回访 at a county: the rectification case a 差评 opens, and the month's call-back sample with
each call's outcome. Projections of the county's own `rectification.*` and `callback.*` events."""

from __future__ import annotations

import peewee as pw

from .base import BaseModel


class Rectification(BaseModel):
    """One rectification case per application whose rating was a 差评 (node.rules.rectification)."""

    number = pw.CharField(max_length=64, primary_key=True)  # the application's: one case per low rating
    county = pw.CharField(max_length=64)  # the station (a county hub) whose stream opened it
    station = pw.CharField(max_length=64, index=True)  # the filing station, for the area and its filter
    item_code = pw.CharField(max_length=32)
    department_code = pw.CharField(max_length=32)
    department = pw.CharField(max_length=100)  # who must rectify: the item's department, by name
    grade = pw.CharField(max_length=32)
    reasons = pw.TextField(default="[]")  # JSON list of node.rules.ratings.REASONS codes
    comment = pw.TextField(null=True)
    rated_on = pw.DateField(null=True)
    opened_on = pw.DateField(index=True)  # Beijing dates
    due = pw.DateField()
    state = pw.CharField(max_length=16, index=True)
    finding = pw.CharField(max_length=16, null=True)  # node.rules.rectification.FINDINGS
    revisit_tries = pw.IntegerField(default=0)
    satisfied = pw.BooleanField(null=True)  # the resident's word at the 回访 that reached them
    closed_on = pw.DateField(null=True)


class CallbackSample(BaseModel):
    """A county's 办件回访 sample of one month, drawn once: what it was drawn from and by which rule."""

    county = pw.CharField(max_length=64)
    month = pw.CharField(max_length=7)  # 2026-11
    share_percent = pw.IntegerField()
    minimum = pw.IntegerField()
    closed = pw.IntegerField()  # the month's closed cases it was drawn from
    drawn_on = pw.DateField()

    class Meta:
        table_name = "callback_sample"
        primary_key = pw.CompositeKey("county", "month")


class Callback(BaseModel):
    """One sampled case on a month's call list, and how its calls went."""

    month = pw.CharField(max_length=7)
    number = pw.CharField(max_length=64)
    county = pw.CharField(max_length=64)
    station = pw.CharField(max_length=64)  # the filing station
    window = pw.CharField(max_length=64)  # the station whose window decided the case
    item_code = pw.CharField(max_length=32)
    decided_on = pw.DateField(null=True)
    tries = pw.IntegerField(default=0)
    reached = pw.BooleanField(default=False)
    satisfied = pw.BooleanField(null=True)
    problems = pw.TextField(default="[]")  # JSON list of node.rules.callbacks.PROBLEMS codes
    comment = pw.TextField(null=True)
    called_on = pw.DateField(null=True)

    class Meta:
        primary_key = pw.CompositeKey("month", "number")
