"""How a decision is worded on the 办结通知书, by the kind of item (事项类型, a field of the catalogue): a
pension is 给付, not 许可. A refusal states the resident's rights to 行政复议 and 行政诉讼 (《行政许可法》第三十八条;
the periods: 《行政复议法》 60 days, 《行政诉讼法》 6 months)."""

from __future__ import annotations

# The kinds an item may be, in the catalogue's words; an item without one is a public service.
KINDS = {
    "licence": "行政许可",
    "payment": "行政给付",
    "confirmation": "行政确认",
    "service": "公共服务",
}
DEFAULT_KIND = "service"
_WORDS = {  # kind: (approved, refused)
    "licence": ("准予许可", "不予许可"),
    "payment": ("准予给付", "不予给付"),
    "confirmation": ("予以确认", "不予确认"),
    "service": ("已办结", "不予办理"),
}


def decision_words(kind: str, approved: bool) -> str:
    """The decision in the words of the item's kind; an unknown kind reads as a public service."""
    granted, refused = _WORDS.get(kind, _WORDS[DEFAULT_KIND])
    return granted if approved else refused


def rights_after_refusal() -> str:
    """What a resident may do about a refusal, and by when: said on the paper that refuses."""
    return (
        "如对本决定不服，可以自收到本通知书之日起六十日内依法申请行政复议，"
        "或者自收到本通知书之日起六个月内依法向人民法院提起行政诉讼。"
    )
