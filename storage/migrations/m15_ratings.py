"""Migration 15: 好差评 grades and their reasons on the application; one-time rating tokens."""

from __future__ import annotations

import peewee as pw

from .frozen import Frozen, add_missing_columns, create


class RatingToken(Frozen):
    digest = pw.CharField(max_length=64, primary_key=True)
    number = pw.CharField(max_length=64, index=True)
    expires_at = pw.DateTimeField()
    used = pw.BooleanField(default=False)

    class Meta:
        table_name = "rating_token"


def apply() -> None:
    add_missing_columns(
        "application",
        {"rating_grade": pw.CharField(max_length=32, null=True), "rating_reasons": pw.TextField(null=True)},
    )
    create(RatingToken)
