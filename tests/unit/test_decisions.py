"""The decision's words by the item's kind (node/rules/decisions.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from node.rules.decisions import KINDS, decision_words


def test_each_kind_has_its_own_words():
    assert [decision_words(k, True) for k in KINDS] == ["准予许可", "准予给付", "予以确认", "已办结"]
    assert [decision_words(k, False) for k in KINDS] == ["不予许可", "不予给付", "不予确认", "不予办理"]


@given(st.text(max_size=12), st.booleans())
def test_no_kind_words_a_payment_or_a_service_as_a_licence(kind, approved):
    words = decision_words(kind, approved)
    assert ("许可" in words) == (kind == "licence")
