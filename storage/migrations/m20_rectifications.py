"""Migration 20: 差评整改 cases, and the monthly 办件回访 samples with each call's outcome."""

from __future__ import annotations

import peewee as pw

from .frozen import Frozen, create


class Rectification(Frozen):
    number = pw.CharField(max_length=64, primary_key=True)
    county = pw.CharField(max_length=64)
    station = pw.CharField(max_length=64, index=True)
    item_code = pw.CharField(max_length=32)
    department_code = pw.CharField(max_length=32)
    department = pw.CharField(max_length=100)
    grade = pw.CharField(max_length=32)
    reasons = pw.TextField(default="[]")
    comment = pw.TextField(null=True)
    rated_on = pw.DateField(null=True)
    opened_on = pw.DateField(index=True)
    due = pw.DateField()
    state = pw.CharField(max_length=16, index=True)
    finding = pw.CharField(max_length=16, null=True)
    revisit_tries = pw.IntegerField(default=0)
    satisfied = pw.BooleanField(null=True)
    closed_on = pw.DateField(null=True)

    class Meta:
        table_name = "rectification"


class CallbackSample(Frozen):
    county = pw.CharField(max_length=64)
    month = pw.CharField(max_length=7)
    share_percent = pw.IntegerField()
    minimum = pw.IntegerField()
    closed = pw.IntegerField()
    drawn_on = pw.DateField()

    class Meta:
        table_name = "callback_sample"
        primary_key = pw.CompositeKey("county", "month")


class Callback(Frozen):
    month = pw.CharField(max_length=7)
    number = pw.CharField(max_length=64)
    county = pw.CharField(max_length=64)
    station = pw.CharField(max_length=64)
    window = pw.CharField(max_length=64)
    item_code = pw.CharField(max_length=32)
    decided_on = pw.DateField(null=True)
    tries = pw.IntegerField(default=0)
    reached = pw.BooleanField(default=False)
    satisfied = pw.BooleanField(null=True)
    problems = pw.TextField(default="[]")
    comment = pw.TextField(null=True)
    called_on = pw.DateField(null=True)

    class Meta:
        table_name = "callback"
        primary_key = pw.CompositeKey("month", "number")


def apply() -> None:
    create(Rectification, CallbackSample, Callback)
