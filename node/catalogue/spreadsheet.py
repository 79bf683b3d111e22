"""The catalogue as a county keeps it in Excel: one CSV row per material, item columns on the item's first row.

Why this layout: a clerk can fill it in without learning any notation inside a cell, and the sheets counties
already keep merge the item cells over the material rows, which Excel saves as blanks below the first row.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Mapping
from decimal import Decimal

from node.catalogue.importing import (
    BUNDLE_COLUMNS,
    ITEM_COLUMNS,
    LABELS,
    BundleSpec,
    Problem,
    Reader,
    Seen,
    assemble,
    finish_item,
    read_item_fields,
    read_material,
)
from node.catalogue.model import FORMS, UNITS, Catalogue, Material, ServiceItem, normal_code
from node.rules.decisions import KINDS
from provisioning.region import DECIDING_LEVELS

_OPTIONAL_COLUMNS = {"results", "change_note", "kind", "material_key", "note", "deferrable"}
_ITEM_KEYS = ITEM_COLUMNS[:15]
_MATERIAL_KEYS = ITEM_COLUMNS[15:]
# What clerks write besides the labels themselves (already NFKC-folded and lower-cased, as cells are compared).
_SYNONYMS = {"乡镇(街道)": "township", "街道": "township", "县": "county", "区县": "county", "县(区)": "county"}
_SYNONYMS |= {"复印件或原件": "either", "原件或复印件均可": "either", "均可": "either"}
_FLAGS = {"是": True, "否": False, "可": True, "不可": False, "√": True, "×": False, "true": True, "false": False}


def _normal(cell: str) -> str:
    """A cell folded for comparison: full-width to half-width, no surrounding space, lower case."""
    return unicodedata.normalize("NFKC", cell).strip().lower()


class CsvReader(Reader):
    """Reads cells as a clerk types them: Chinese labels, 是/否, yuan, full-width digits."""

    def __init__(self, row: Mapping[str, str], location: str, problems: list[Problem]) -> None:
        super().__init__(location, LABELS, problems)
        self.row = row

    def cell(self, key: str) -> str:
        return self.row.get(LABELS[key], "")

    def text(self, key: str, required: bool = True) -> str | None:
        return self.present(key, self.cell(key), required)

    def integer(self, key: str, minimum: int) -> int | None:
        cell = _normal(self.cell(key))
        if not re.fullmatch(r"[0-9]{1,6}", cell):
            self.note(key, f"{LABELS[key]}应填整数，如 5" if cell else f"{LABELS[key]}不能为空")
            return None
        return self.bounded(key, int(cell), minimum)

    def flag(self, key: str, default: bool | None = None) -> bool | None:
        if default is not None and not _normal(self.cell(key)):
            return default
        value = _FLAGS.get(_normal(self.cell(key)))
        if value is None:
            self.note(key, f"{LABELS[key]}应填“是”或“否”")
        return value

    def choice(self, key: str, options: Mapping[str, str]) -> str | None:
        accepted = {_normal(label): code for code, label in options.items()} | {code: code for code in options}
        accepted |= {word: code for word, code in _SYNONYMS.items() if code in options}
        value = accepted.get(_normal(self.cell(key)))
        if value is None:
            self.note(key, f"{LABELS[key]}应填 {'、'.join(options.values())} 之一")
        return value

    def fee(self) -> int | None:
        cell = _normal(self.cell("fee"))
        if cell in ("免费", "不收费"):
            return 0
        if not re.fullmatch(r"[0-9]{1,7}(\.[0-9]{1,2})?", cell):
            self.note("fee", "收费标准（元）应填不小于 0 的金额，最多两位小数，免费填 0")
            return None
        return int(Decimal(cell) * 100)

    def words(self, key: str) -> tuple[str, ...] | None:
        return tuple(word for word in re.split(r"[、,;\s]+", unicodedata.normalize("NFKC", self.cell(key))) if word)


def load_csv(items: str | bytes, bundles: str | bytes = "") -> Catalogue:
    """Read the CSV layout (one row per material, see docs/catalogue.md), and optionally a bundle sheet.

    Bytes are read as UTF-8 (with or without the BOM Excel writes), else as GB18030, which is what Excel on a
    Chinese Windows saves as plain "CSV". Raise CatalogueError listing every problem.
    """
    problems: list[Problem] = []
    seen = Seen()
    rows = _csv_rows(items, ITEM_COLUMNS, "", problems)
    parsed = [_csv_item(group, problems, seen) for group in _group_rows(rows, "code", "version")]
    specs = []
    if bundles:
        for group in _group_rows(_csv_rows(bundles, BUNDLE_COLUMNS, "一件事表", problems), "bundle_code", ""):
            specs.append(_csv_bundle(group, problems))
    return assemble(parsed, specs, seen, problems)


def _decode(data: str | bytes) -> str | None:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def _csv_rows(data: str | bytes, columns: list[str], sheet: str, problems: list[Problem]) -> list[tuple[int, dict]]:
    """The non-blank rows under the header, numbered as Excel numbers them, cells by column label."""
    text = _decode(data)
    if text is None:
        problems.append(Problem(f"{sheet}文件", "", "文件编码无法识别，请在 Excel 中另存为“CSV UTF-8（逗号分隔）”"))
        return []
    try:
        table = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        problems.append(Problem(f"{sheet}文件", "", f"无法按 CSV 读取（{exc}）"))
        return []
    first = _normal(LABELS[columns[0]])
    # A title row above the header ("顺庆区政务服务事项清单") is common, so the header is found, not assumed.
    start = next((i for i, cells in enumerate(table) if first in map(_normal, cells)), None)
    if start is None:
        problems.append(Problem(f"{sheet}第 1 行", "", f"找不到表头：应有一行列名，至少含“{LABELS[columns[0]]}”"))
        return []
    header = [_normal(cell) for cell in table[start]]
    where = {key: header.index(_normal(LABELS[key])) for key in columns if _normal(LABELS[key]) in header}
    for key in columns:
        if key not in where and key not in _OPTIONAL_COLUMNS:
            problems.append(Problem(f"{sheet}第 {start + 1} 行", LABELS[key], f"缺少“{LABELS[key]}”列"))
    rows = []
    for number, cells in enumerate(table[start + 1 :], start=start + 2):
        row = {LABELS[key]: cells[i].strip() if i < len(cells) else "" for key, i in where.items()}
        if any(row.values()):
            rows.append((number, row))
    return rows


def _group_rows(rows: list[tuple[int, dict]], code_key: str, version_key: str) -> list[list[tuple[int, dict]]]:
    """Rows of one record: the first names it; rows below with the code left blank (as Excel saves merged cells)
    or repeated, with the same version, continue it."""
    groups: list[list[tuple[int, dict]]] = []
    code_label, version_label = LABELS[code_key], LABELS.get(version_key, "")
    for number, row in rows:
        code = row.get(code_label, "")
        if groups:
            first = groups[-1][0][1]
            same = code == first.get(code_label) and row.get(version_label, "") in ("", first.get(version_label, ""))
            if not code or same:
                groups[-1].append((number, row))
                continue
        groups.append([(number, row)])
    return groups


def _csv_item(group: list[tuple[int, dict]], problems: list[Problem], seen: Seen) -> ServiceItem | None:
    first_number, first = group[0]
    reader = CsvReader(first, f"第 {first_number} 行", problems)
    fields = read_item_fields(reader)
    materials, locations = [], []
    for number, row in group:
        for key in _ITEM_KEYS if number != first_number else ():
            cell = row.get(LABELS[key], "")
            if cell and cell != first.get(LABELS[key], ""):
                problems.append(Problem(f"第 {number} 行", LABELS[key], f"{LABELS[key]}与第 {first_number} 行不一致"))
        if any(row.get(LABELS[key]) for key in _MATERIAL_KEYS):
            locations.append(f"第 {number} 行")
            materials.append(read_material(CsvReader(row, locations[-1], problems)))
    return finish_item(reader, fields, materials, locations, seen)


def _csv_bundle(group: list[tuple[int, dict]], problems: list[Problem]) -> BundleSpec | None:
    first_number, first = group[0]
    reader = CsvReader(first, f"一件事表第 {first_number} 行", problems)
    code, name = reader.text("bundle_code"), reader.text("bundle_name")
    item_codes = []
    for number, row in group:
        item = CsvReader(row, f"一件事表第 {number} 行", problems).text("bundle_items")
        if item:
            item_codes.append(normal_code(item))
    if code is None or name is None:
        return None
    return BundleSpec(reader.location, code, name, item_codes, reader.names)


def to_csv(catalogue: Catalogue) -> str:
    """Every version of every item in the CSV layout. Save it as UTF-8 with a BOM ("utf-8-sig") so Excel
    shows the Chinese; counties export, edit and import it back."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(LABELS[key] for key in ITEM_COLUMNS)
    for code in sorted(catalogue.versions):
        for item in catalogue.versions[code]:
            cells = _item_cells(item)
            for material in item.materials or (None,):
                writer.writerow(cells + _material_cells(material))
                cells = [""] * len(cells)  # below the first row item cells stay blank, as merged cells save
    return out.getvalue()


def _item_cells(item: ServiceItem) -> list[str]:
    fee = f"{item.fee_fen // 100}" if item.fee_fen % 100 == 0 else f"{item.fee_fen // 100}.{item.fee_fen % 100:02d}"
    return [
        item.code,
        str(item.version),
        item.name,
        item.department,
        item.category,
        DECIDING_LEVELS[item.level],
        str(item.legal_limit.days),
        UNITS[item.legal_limit.unit],
        str(item.promised_limit.days),
        UNITS[item.promised_limit.unit],
        fee,
        "是" if item.proxy_allowed else "否",
        "、".join(item.results),
        item.change_note,
        KINDS[item.kind],
    ]


def _material_cells(material: Material | None) -> list[str]:
    if material is None:
        return [""] * len(_MATERIAL_KEYS)
    collect = "是" if material.station_may_collect else "否"
    deferrable = "是" if material.deferrable else "否"
    return [material.key, material.name, FORMS[material.form], str(material.count), collect, material.note, deferrable]
