"""The JSON bodies the API accepts, as typed msgspec Structs: a body is decoded and checked by type and bounds
in one step, before the domain sees it, and a wrong one is refused naming its field in Chinese.

msgspec rather than pydantic: it is strict by default (`"false"` is not a boolean, `"5"` is not an integer),
small (one C extension, no dependencies), decodes straight from the request's bytes, and its errors name the
field's path (`$.applicant.name`), which is all that `_in_chinese` needs to say what is wrong and where.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, TypeVar

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from node.rules.deferrals import CHECKS, DEFERRAL_DAYS
from node.rules.workflow import CORRECTION_DAYS, MAX_CORRECTION_ITEMS, PROCEDURES

T = TypeVar("T")
NO_NUL = "^[^\\x00]*$"  # PostgreSQL cannot store NUL in text: a hub would fail where a station would not


def text(longest: int):
    """A string of at most `longest` characters and no NUL."""
    return Annotated[str, Meta(max_length=longest, pattern=NO_NUL)]


Note = text(500)
Procedure = Literal[tuple(PROCEDURES)]  # type: ignore[valid-type]
Check = Literal[tuple(CHECKS)]  # type: ignore[valid-type]


class Applicant(Struct, forbid_unknown_fields=True):
    name: text(50) = ""
    id_number: text(18) = ""
    phone: text(20) = ""
    address: text(200) = ""


class Intake(Struct, forbid_unknown_fields=True):
    """代办: a filing for a resident, of one item or of a bundle (一件事)."""

    applicant: Applicant
    consent: bool
    request_token: Annotated[str, Meta(pattern="^[0-9a-f]{32}$")]
    item: text(64) = ""
    bundle: text(64) | None = None
    note: Note = ""  # 代办说明, sealed with the resident's fields


class Query(Struct, forbid_unknown_fields=True):
    """办件查询: the query code or the application's number, and the last four characters of the ID number."""

    code: text(64)
    id_tail: text(8)


class Step(Struct, forbid_unknown_fields=True):
    """One step of an application's handling; only the fields given reach the event's payload. A 补正 request
    names its items and gives the resident working days (the date is counted by the node). 受理 checks each
    material (`materials`: key → original, copy, electronic, deferred or missing; left out, the scans held
    count as received and nothing else), a 容缺 with `deferral_days`; 补齐容缺材料 names its keys in `items`."""

    approved: bool | UnsetType = UNSET
    reason: Note | UnsetType = UNSET
    procedure: Procedure | UnsetType = UNSET
    items: Annotated[list[text(100)], Meta(max_length=MAX_CORRECTION_ITEMS)] | UnsetType = UNSET
    deadline_days: Annotated[int, Meta(ge=CORRECTION_DAYS[0], le=CORRECTION_DAYS[1])] | UnsetType = UNSET
    materials: Annotated[dict[text(64), Check], Meta(max_length=100)] | UnsetType = UNSET
    deferral_days: Annotated[int, Meta(ge=DEFERRAL_DAYS[0], le=DEFERRAL_DAYS[1])] | UnsetType = UNSET

    def payload(self) -> dict:
        return msgspec.to_builtins(self)  # UNSET fields are left out


class Sealing(Struct, forbid_unknown_fields=True):
    """A paper to seal: which of this node's seals, its holder's PIN, the paper size."""

    seal: text(32)
    pin: text(64)
    size: Literal["A4", "A5"] = "A4"


class MalformedBody(Exception):
    """A body that is not JSON at all; `web.errors` answers it 400 with its code."""

    code, http_status = "malformed_json", 400


class InvalidBody(MalformedBody):
    """JSON of the wrong shape: a field of the wrong type, out of bounds, missing or unknown."""

    code = "invalid_body"


def decode(data: bytes, kind: type[T]) -> T:
    """The body as `kind`; an empty body is an empty object (a step with nothing to say)."""
    try:
        return msgspec.json.decode(data or b"{}", type=kind)
    except msgspec.ValidationError as exc:
        raise InvalidBody(_in_chinese(str(exc))) from exc
    except msgspec.DecodeError as exc:
        raise MalformedBody("请求内容不是有效的 JSON：请检查括号、引号和逗号") from exc


_KINDS = {
    "bool": "布尔值（true 或 false）",
    "int": "整数",
    "float": "数字",
    "str": "字符串",
    "object": "对象",
    "array": "数组",
    "null": "null",
    "str | null": "字符串或 null",
}
_AT = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")
_RULES = (
    (re.compile(r"Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`"), "应为{want}，收到的是{got}"),
    (re.compile(r"Expected `(?:int|float)` (?P<op>[<>]=?) (?P<n>-?\d+)"), "须{op} {n}"),
    (re.compile(r"Expected `str` of length (?P<op>[<>]=?) (?P<n>\d+)"), "长度须{op} {n} 个字符"),
    (re.compile(r"Expected `str` matching regex"), "格式不对"),
    (re.compile(r"Invalid enum value '(?P<got>[^']*)'"), "不是可选的值（{got}）"),
    (re.compile(r"Object missing required field `(?P<field>[^`]+)`"), "缺少必填字段"),
    (re.compile(r"Object contains unknown field `(?P<field>[^`]+)`"), "是不认识的字段"),
)
_OPS = {"<=": "不大于", ">=": "不小于", "<": "小于", ">": "大于"}


def _in_chinese(message: str) -> str:
    """msgspec's English error as one Chinese sentence that names the field's path first."""
    at = _AT.search(message)
    path = at["path"] if at else ""
    for pattern, said in _RULES:
        found = pattern.search(message)
        if found is None:
            continue
        parts = found.groupdict()
        if "field" in parts:
            path = f"{path}.{parts['field']}" if path else parts["field"]
        words = {k: _KINDS.get(v, v) for k, v in parts.items() if k in ("want", "got")}
        if "op" in parts:
            words["op"] = _OPS[parts["op"]]
        wrong = said.format(**{**parts, **words})
        return f"字段 {path}：{wrong}" if path else f"请求内容{wrong}"
    return f"字段 {path}：不符合要求" if path else "请求内容不符合要求"
