"""Reading and writing the catalogue: the canonical JSON form, and CSV as a county keeps it in Excel.

Both readers report every problem at once, each with its row or path and a message in Chinese, so a clerk fixes
the sheet in one pass instead of one upload per mistake. docs/catalogue.md describes both formats.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node.catalogue.model import (
    FORMAT,
    FORMS,
    UNITS,
    Catalogue,
    Material,
    ServiceItem,
    TimeLimit,
    code_problem,
    normal_code,
)
from node.errors import DomainError
from node.rules.decisions import DEFAULT_KIND, KINDS
from node.rules.eligibility import Condition, rule_problems
from provisioning.region import DECIDING_LEVELS

SAMPLE_PATH = Path(__file__).parent / "data" / "catalogue.json"

# Each field has one Chinese name: it heads its CSV column and names it in every message.
LABELS = {
    "code": "事项编码",
    "version": "版本",
    "name": "事项名称",
    "department": "实施部门",
    "category": "类别",
    "level": "决定层级",
    "legal_days": "法定时限",
    "legal_unit": "法定时限单位",
    "promised_days": "承诺时限",
    "promised_unit": "承诺时限单位",
    "fee": "收费标准（元）",
    "proxy_allowed": "可否代办",
    "results": "出具材料代码",
    "change_note": "变更说明",
    "kind": "事项类型",
    "material_key": "材料代码",
    "material_name": "材料名称",
    "form": "原件或复印件",
    "count": "份数",
    "station_may_collect": "村站可收取",
    "note": "材料备注",
    "deferrable": "可容缺",
    "materials": "材料清单",
    "bundle_code": "一件事编码",
    "bundle_name": "一件事名称",
    "bundle_items": "事项编码",
    "items": "事项列表",
    "bundles": "一件事列表",
    # Published in the JSON catalogue only: a rule does not fit a spreadsheet's cell.
    "eligibility": "办理条件",
    "auto_approve": "秒办",
    "delegated": "授权当场办结的站点",
    "cross_region": "跨区域通办",
    "handler": "办理地（县级区划代码）",
    "handler_name": "办理地名称",
}
ITEM_COLUMNS = list(LABELS)[:22]
BUNDLE_COLUMNS = ["bundle_code", "bundle_name", "bundle_items"]
_JSON_NAMES = {key: key for key in LABELS} | {
    "legal_days": "legal_limit.days",
    "legal_unit": "legal_limit.unit",
    "promised_days": "promised_limit.days",
    "promised_unit": "promised_limit.unit",
    "fee": "fee_fen",
    "material_key": "key",
    "material_name": "name",
    "bundle_code": "code",
    "bundle_name": "name",
    "bundle_items": "items",
}
_MISSING = object()


@dataclass(frozen=True)
class Problem:
    """One mistake in an import: where (Excel's row number, or a JSON path), which column or key, and why."""

    location: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}：{self.message}"


class CatalogueError(DomainError):
    """An import was refused; `problems` lists every mistake found, not just the first."""

    code = "bad_catalogue"

    def __init__(self, problems: list[Problem]):
        super().__init__("事项清单有误：" + "；".join(map(str, problems)))
        self.problems = problems


class Reader:
    """Reads one record into plain values, noting every problem instead of stopping at the first."""

    def __init__(self, location: str, names: Mapping[str, str], problems: list[Problem]) -> None:
        self.location, self.names, self.problems = location, names, problems
        self.failed = False

    def note(self, key: str, message: str) -> None:
        self.problems.append(Problem(self.location, self.names[key], message))
        self.failed = True

    def present(self, key: str, text: str, required: bool) -> str | None:
        if required and not text:
            self.note(key, f"{LABELS[key]}不能为空")
            return None
        return text

    def bounded(self, key: str, value: int, minimum: int) -> int | None:
        if value < minimum:
            self.note(key, f"{LABELS[key]}至少为 {minimum}" if minimum else f"{LABELS[key]}不能为负数")
            return None
        return value

    def code(self) -> str | None:
        code = self.text("code")
        if code is None:
            return None
        code = normal_code(code)
        message = code_problem(code)
        if message:
            self.note("code", message)
            return None
        return code

    def limit(self, prefix: str) -> TimeLimit | None:
        days, unit = self.integer(f"{prefix}_days", 0), self.choice(f"{prefix}_unit", UNITS)
        return None if days is None or unit is None else TimeLimit(days, unit)

    def text(self, key: str, required: bool = True) -> str | None:
        raise NotImplementedError

    def optional(self, key: str) -> Any:
        """A structured field only the JSON form carries; elsewhere it is missing (its default)."""
        return _MISSING

    def integer(self, key: str, minimum: int) -> int | None:
        raise NotImplementedError

    def flag(self, key: str, default: bool | None = None) -> bool | None:
        """A yes or no; left out (or blank), `default` where the field is optional."""
        raise NotImplementedError

    def choice(self, key: str, options: Mapping[str, str]) -> str | None:
        raise NotImplementedError

    def fee(self) -> int | None:
        raise NotImplementedError

    def words(self, key: str) -> tuple[str, ...] | None:
        raise NotImplementedError


class JsonReader(Reader):
    """Reads JSON values strictly: numbers are numbers, flags are true or false, codes are English."""

    def __init__(self, obj: Mapping[str, Any], location: str, problems: list[Problem]) -> None:
        super().__init__(location, _JSON_NAMES, problems)
        self.obj = obj

    def optional(self, key: str) -> Any:
        return self.raw(key)

    def raw(self, key: str) -> Any:
        value: Any = self.obj
        for part in self.names[key].split("."):  # "legal_limit.days"
            value = value.get(part, _MISSING) if isinstance(value, dict) else _MISSING
        return value

    def text(self, key: str, required: bool = True) -> str | None:
        value = self.raw(key)
        if value is _MISSING or value is None:
            return self.present(key, "", required)
        if not isinstance(value, str):
            self.note(key, f"{LABELS[key]}应为文字")
            return None
        return self.present(key, value.strip(), required)

    def integer(self, key: str, minimum: int) -> int | None:
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int):
            self.note(key, f"缺少{LABELS[key]}" if value is _MISSING else f"{LABELS[key]}应为整数")
            return None
        return self.bounded(key, value, minimum)

    def flag(self, key: str, default: bool | None = None) -> bool | None:
        value = self.raw(key)
        if value is _MISSING and default is not None:
            return default
        if not isinstance(value, bool):
            self.note(key, f"{LABELS[key]}应为 true 或 false")
            return None
        return value

    def choice(self, key: str, options: Mapping[str, str]) -> str | None:
        value = self.text(key)
        if value is not None and value not in options:
            self.note(key, f"{LABELS[key]}应为 {'、'.join(options)} 之一")
            return None
        return value

    def fee(self) -> int | None:
        return self.integer("fee", 0)

    def words(self, key: str) -> tuple[str, ...] | None:
        value = self.raw(key)
        if value is _MISSING:
            return ()
        if not isinstance(value, list) or not all(isinstance(word, str) and word.strip() for word in value):
            self.note(key, f"{LABELS[key]}应为文字的列表")
            return None
        return tuple(word.strip() for word in value)


@dataclass
class Seen:
    """What earlier records said. Each record is checked against it as it is read, so even a record with other
    mistakes gets every check its readable fields allow."""

    codes: set[str] = dataclasses.field(default_factory=set)  # every item code read, for the bundles
    versions: dict[tuple[str, int], str] = dataclasses.field(default_factory=dict)  # (code, version) → where
    departments: dict[str, tuple[str, str]] = dataclasses.field(default_factory=dict)  # credit code → (name, where)
    materials: dict[str, tuple[str, str]] = dataclasses.field(default_factory=dict)  # material key → (name, where)


@dataclass
class BundleSpec:
    """A bundle as read, before its items are known to exist."""

    location: str
    code: str
    name: str
    item_codes: list[str]
    field_names: Mapping[str, str]  # how the file names the fields: JSON keys or CSV columns


def read_item_fields(reader: Reader) -> dict[str, Any]:
    """Every field of an item but its materials; each format's reader knows how its cells are written."""
    fields = {
        "code": reader.code(),
        "version": reader.integer("version", 1),
        "name": reader.text("name"),
        "department": reader.text("department"),
        "category": reader.text("category"),
        "level": reader.choice("level", DECIDING_LEVELS),
        "legal_limit": reader.limit("legal"),
        "promised_limit": reader.limit("promised"),
    }
    legal, promised = fields["legal_limit"], fields["promised_limit"]
    if legal is not None and promised is not None and not promised.fits_within(legal):
        reader.note("promised_days", "承诺时限不能长于法定时限")
    return fields | {
        "fee_fen": reader.fee(),
        "proxy_allowed": reader.flag("proxy_allowed"),
        "results": reader.words("results"),
        "change_note": reader.text("change_note", required=False),
        "kind": _kind(reader),
        **_authority(reader),
    }


def _authority(reader: Reader) -> dict[str, Any]:
    """办理条件, 秒办, 授权委托 and 跨区域通办 as the JSON catalogue states them; each condition's rule checked
    to run. `handler` is written by the city in its 通办 list only, naming the county whose item it is."""
    conditions, given = [], reader.optional("eligibility")
    if given is not _MISSING and not isinstance(given, list):
        reader.note("eligibility", "办理条件应为列表，每项含 rule 与 reason")
    for index, entry in enumerate(given if isinstance(given, list) else []):
        if not isinstance(entry, dict) or not isinstance(entry.get("reason"), str) or not entry["reason"].strip():
            reader.note("eligibility", f"第 {index + 1} 条办理条件须有 rule 与不符合时告知群众的 reason")
            continue
        for problem in rule_problems(entry.get("rule")):
            reader.note("eligibility", f"第 {index + 1} 条办理条件：{problem}")
        conditions.append(Condition(entry.get("rule"), entry["reason"].strip()))
    auto, delegated = reader.optional("auto_approve"), reader.optional("delegated")
    if auto is not _MISSING and not isinstance(auto, bool):
        reader.note("auto_approve", "秒办应为 true 或 false")
    if auto is True and not conditions:
        reader.note("auto_approve", "秒办的事项须写明办理条件")
    if delegated is not _MISSING and not (isinstance(delegated, list) and all(isinstance(d, str) for d in delegated)):
        reader.note("delegated", "授权当场办结的站点应为站点编码的列表")
        delegated = []
    cross, handler = reader.optional("cross_region"), reader.optional("handler")
    if cross is not _MISSING and not isinstance(cross, bool):
        reader.note("cross_region", "跨区域通办应为 true 或 false")
    if handler is not _MISSING and not (isinstance(handler, str) and len(handler) == 6 and handler.isdigit()):
        reader.note("handler", "办理地应为 6 位县级区划代码")
        handler = ""
    return {
        "eligibility": tuple(conditions),
        "auto_approve": auto is True,
        "delegated": tuple(delegated) if isinstance(delegated, list) else (),
        "cross_region": cross is True,
        "handler": handler if isinstance(handler, str) else "",
        "handler_name": reader.text("handler_name", required=False) if handler else "",
    }


def _kind(reader: Reader) -> str:
    """事项类型 in the catalogue's words (行政许可 …) or its code; none given: a public service."""
    given = reader.text("kind", required=False)
    if not given:
        return DEFAULT_KIND
    codes = {words: code for code, words in KINDS.items()} | {code: code for code in KINDS}
    if given not in codes:
        reader.note("kind", f"事项类型应为 {' / '.join(KINDS.values())} 之一")
        return DEFAULT_KIND
    return codes[given]


def read_material(reader: Reader) -> Material | None:
    """One material; its key defaults to its name, so a sheet without keys still merges identical names."""
    name = reader.text("material_name")
    key = reader.text("material_key", required=False) or name
    form, count = reader.choice("form", FORMS), reader.integer("count", 1)
    collect, note = reader.flag("station_may_collect"), reader.text("note", required=False)
    deferrable = reader.flag("deferrable", default=False)  # 非关键材料; most are not, so it may be left out
    if reader.failed:
        return None
    return Material(key or "", name or "", form or "", count or 1, bool(collect), note or "", bool(deferrable))


def finish_item(
    reader: Reader, fields: dict[str, Any], materials: list[Material | None], where: list[str], seen: Seen
) -> ServiceItem | None:
    """Check the record against earlier ones; the item, unless any part of it was wrong (already noted)."""
    code, version, department = fields["code"], fields["version"], fields["department"]
    if code:
        seen.codes.add(code)
    if code and version:
        seen_at = seen.versions.setdefault((code, version), reader.location)
        if seen_at != reader.location:
            reader.note("code", f"事项 {code} 第 {version} 版重复（{seen_at}已有）")
    if code and department:
        first, seen_at = seen.departments.setdefault(code.split("-")[0], (department, reader.location))
        if first != department:
            message = f"统一社会信用代码 {code.split('-')[0]} 在{seen_at}属于“{first}”，此处却是“{department}”"
            reader.note("department", message)
    _check_materials(reader, materials, where, seen)
    if reader.failed or None in materials:
        return None
    return ServiceItem(**fields, materials=tuple(m for m in materials if m))


def _check_materials(reader: Reader, materials: list[Material | None], where: list[str], seen: Seen) -> None:
    """A key names one material everywhere (so a bundle can merge it) and appears once in an item."""
    keys_here: set[str] = set()
    for material, location in zip(materials, where, strict=True):
        if material is None:
            continue
        if material.key in keys_here:
            reader.problems.append(
                Problem(location, reader.names["material_key"], f"材料“{material.key}”在本事项中重复")
            )
        keys_here.add(material.key)
        name, seen_at = seen.materials.setdefault(material.key, (material.name, location))
        if name != material.name:
            message = f"材料代码“{material.key}”在{seen_at}是“{name}”，此处却是“{material.name}”：同一代码须用同一名称"
            reader.problems.append(Problem(location, reader.names["material_name"], message))


def load_json(text: str | bytes) -> Catalogue:
    """Read the canonical JSON form; raise CatalogueError listing every problem."""
    if isinstance(text, str):
        text = text.removeprefix("\ufeff")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogueError([Problem(f"第 {exc.lineno} 行第 {exc.colno} 列", "", "不是有效的 JSON")]) from exc
    except (ValueError, RecursionError) as exc:  # undecodable bytes, absurd numbers or nesting
        raise CatalogueError([Problem("文件", "", "不是有效的 JSON")]) from exc
    if not isinstance(document, dict):
        raise CatalogueError([Problem("文件", "", "应为一个 JSON 对象，含 items 与 bundles")])
    problems: list[Problem] = []
    if document.get("format", FORMAT) != FORMAT:
        problems.append(Problem("文件", "format", f"格式应为 {FORMAT}"))
    seen = Seen()
    items = _json_list(document, "items", "文件", problems, required=True) or []
    parsed = [_json_item(obj, f"items[{index}]", problems, seen) for index, obj in enumerate(items)]
    bundles = _json_list(document, "bundles", "文件", problems, required=False) or []
    specs = [_json_bundle(obj, f"bundles[{index}]", problems) for index, obj in enumerate(bundles)]
    return assemble(parsed, specs, seen, problems)


def _json_list(obj: Mapping[str, Any], key: str, where: str, problems: list[Problem], required: bool) -> list | None:
    value = obj.get(key, _MISSING)
    if value is _MISSING and not required:
        return []
    if not isinstance(value, list):
        problems.append(
            Problem(where, key, f"{LABELS[key]}应为列表" if value is not _MISSING else f"缺少{LABELS[key]}（{key}）")
        )
        return None
    return value


def _json_item(obj: Any, where: str, problems: list[Problem], seen: Seen) -> ServiceItem | None:
    if not isinstance(obj, dict):
        problems.append(Problem(where, "", "事项应为一个 JSON 对象"))
        return None
    reader = JsonReader(obj, where, problems)
    fields = read_item_fields(reader)
    raw_materials = _json_list(obj, "materials", where, problems, required=True)
    if raw_materials is None:
        return None
    materials, locations = [], []
    for index, raw in enumerate(raw_materials):
        locations.append(f"{where}.materials[{index}]")
        if not isinstance(raw, dict):
            problems.append(Problem(locations[-1], "", "材料应为一个 JSON 对象"))
            materials.append(None)
        else:
            materials.append(read_material(JsonReader(raw, locations[-1], problems)))
    return finish_item(reader, fields, materials, locations, seen)


def _json_bundle(obj: Any, where: str, problems: list[Problem]) -> BundleSpec | None:
    if not isinstance(obj, dict):
        problems.append(Problem(where, "", "一件事应为一个 JSON 对象"))
        return None
    reader = JsonReader(obj, where, problems)
    code, name, items = reader.text("bundle_code"), reader.text("bundle_name"), reader.words("bundle_items")
    if code is None or name is None or items is None:
        return None
    return BundleSpec(where, code, name, [normal_code(item) for item in items], reader.names)


def assemble(
    items: list[ServiceItem | None], specs: list[BundleSpec | None], seen: Seen, problems: list[Problem]
) -> Catalogue:
    """Check the bundles, then build the catalogue, or raise with every problem found."""
    _check_bundles([spec for spec in specs if spec], seen.codes, problems)
    if problems:
        raise CatalogueError(problems)
    bundles = [(spec.code, spec.name, spec.item_codes) for spec in specs if spec]
    return Catalogue.build([item for item in items if item], bundles)


def _check_bundles(specs: list[BundleSpec], known: set[str], problems: list[Problem]) -> None:
    codes_at: dict[str, str] = {}
    for spec in specs:
        seen_at = codes_at.setdefault(spec.code, spec.location)
        if seen_at != spec.location:
            problems.append(
                Problem(spec.location, spec.field_names["bundle_code"], f"一件事编码 {spec.code} 重复（{seen_at}已有）")
            )
        listed: set[str] = set()
        for code in spec.item_codes:
            if code in listed:
                problems.append(Problem(spec.location, spec.field_names["bundle_items"], f"事项 {code} 重复列入"))
            elif code not in known:
                problems.append(Problem(spec.location, spec.field_names["bundle_items"], f"事项 {code} 不在清单中"))
            listed.add(code)
        if len(listed) < 2:
            problems.append(Problem(spec.location, spec.field_names["bundle_items"], "一件事至少要包含两个事项"))
