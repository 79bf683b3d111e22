"""The service catalogue (事项清单): service items and their versions, 一件事 bundles, and search.

Pure values only. The canonical JSON form is written here (`to_json`); reading and checking files lives
in `importing` (JSON) and `spreadsheet` (Excel), so a catalogue is held and searched anywhere.
"""

from __future__ import annotations

import dataclasses
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from node.rules.decisions import DEFAULT_KIND
from node.rules.eligibility import Condition
from node.rules.identifiers import credit_check_character

FORMAT = "onetrip-catalogue/1"  # the canonical JSON form, docs/catalogue.md
UNITS = {"working": "工作日", "calendar": "自然日"}
FORMS = {"original": "原件", "copy": "复印件", "either": "原件或复印件"}

# An item code starts with its department's unified social credit code (GB 32100); its check character
# (`node.rules.identifiers`) catches most codes mistyped into a spreadsheet.
_ITEM_CODE = re.compile(r"[0-9A-HJ-NPQRTUWXY]{18}-[0-9]{4}")

# What people say for the departments and fields they mean; search tries the long form too.
ABBREVIATIONS = {
    "社保": "社会保险",
    "医保": "医疗保障",
    "人社": "人力资源和社会保障",
    "残联": "残疾人联合会",
    "卫健": "卫生健康",
    "市监": "市场监督管理",
    "农业": "农业农村",
    "公安": "公安局",
}

# When several items of a bundle ask for one material it is asked once, in the strictest form: an original
# shown at the window also yields the copy another department keeps.
_FORM_STRICTNESS = {"either": 0, "copy": 1, "original": 2}


def normal_code(code: str) -> str:
    """An item code as typed (full-width, lower case, stray spaces) in the one form it is stored in."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", code)).upper()


def code_problem(code: str) -> str | None:
    """Why `code` is not a valid item code, in Chinese, or None when it is."""
    if not _ITEM_CODE.fullmatch(code):
        return "事项编码应为“18 位统一社会信用代码-4 位序号”，如 11511302MB10040469-0001"
    if credit_check_character(code[:17]) != code[17]:
        return "事项编码中统一社会信用代码的校验位不对，请核对是否抄错"
    if code.endswith("-0000"):
        return "事项编码的序号应从 0001 开始"
    return None


class TimeLimit(NamedTuple):
    """A time limit as the catalogue states it; turning it into a date needs the holiday table, elsewhere."""

    days: int  # 0 means 即办: decided on the spot
    unit: str  # "working" | "calendar"

    def __str__(self) -> str:
        if self.days == 0:
            return "即办"
        return f"{self.days}个{UNITS.get(self.unit, self.unit)}"

    def fits_within(self, other: TimeLimit) -> bool:
        """Whether this limit is no longer than `other`.

        Across units an ordinary week is assumed (5 working days in 7): the exact span depends on holidays, but
        the catalogue only has to catch a promise that is plainly longer than the law allows.
        """
        return self._calendar_fifths() <= other._calendar_fifths()

    def _calendar_fifths(self) -> int:
        return self.days * (7 if self.unit == "working" else 5)


@dataclass(frozen=True)
class Material:
    """One material an item requires. `key` is stable across items, so a bundle can ask for it once."""

    key: str
    name: str
    form: str  # "original" | "copy" | "either"
    count: int = 1
    station_may_collect: bool = False  # a village agent may take it in; otherwise it goes to the window
    note: str = ""
    deferrable: bool = False  # 非关键材料: may be 容缺 at acceptance, on the resident's promise (node.rules.deferrals)


@dataclass(frozen=True)
class ServiceItem:
    """One version of a service item (事项). A change makes a new version; applications keep theirs."""

    code: str  # the department's unified social credit code, "-", a 4-digit serial
    version: int
    name: str
    department: str
    category: str
    level: str  # who decides: "township" | "county"
    legal_limit: TimeLimit
    promised_limit: TimeLimit
    fee_fen: int
    proxy_allowed: bool
    materials: tuple[Material, ...]
    results: tuple[str, ...] = ()  # material keys this item issues, so a bundle need not ask the applicant
    change_note: str = ""
    kind: str = DEFAULT_KIND  # 事项类型 (node.rules.decisions.KINDS): how its decision is worded
    eligibility: tuple[Condition, ...] = ()  # 办理条件, checked at intake (node.rules.eligibility)
    auto_approve: bool = False  # 秒办: an eligible application is approved by the rule at filing
    delegated: tuple[str, ...] = ()  # 授权委托: stations that may decide this 即办 item on the spot
    cross_region: bool = False  # 跨区域通办: the county accepts it from stations of other counties
    handler: str = ""  # in the city's 通办 list: the county whose item it is, which handles its applications
    handler_name: str = ""  # and that county's name, as the agent and the resident are told it

    def authorised(self, station: str, basis: str) -> bool:
        """Whether `station` may approve an application of this item itself on `basis`: "delegation" (即办,
        the county named it) or "rule" (秒办, the published conditions hold)."""
        if basis == "delegation":
            return self.promised_limit.days == 0 and station in self.delegated
        return basis == "rule" and self.auto_approve and bool(self.eligibility)

    @property
    def department_code(self) -> str:
        return self.code.split("-", 1)[0]


@dataclass(frozen=True)
class ChecklistEntry:
    """A material on a bundle's checklist, merged over the items that ask for it."""

    material: Material
    item_codes: tuple[str, ...]
    issued_by: str = ""  # a bundle item issues it: departments pass it on and the applicant need not bring it


@dataclass(frozen=True)
class Bundle:
    """一件事: several items filed together, with each shared material asked once."""

    code: str
    name: str
    item_codes: tuple[str, ...]
    checklist: tuple[ChecklistEntry, ...]

    def to_ask(self) -> tuple[ChecklistEntry, ...]:
        """What the applicant brings: the checklist less what the bundle's own items issue."""
        return tuple(entry for entry in self.checklist if not entry.issued_by)


def merge_checklist(items: Sequence[ServiceItem]) -> tuple[ChecklistEntry, ...]:
    """Merge the items' materials by key, in order of first appearance, each asked once."""
    issuers: dict[str, str] = {}
    for item in items:
        for key in item.results:
            issuers.setdefault(key, item.code)
    asks: dict[str, list[tuple[str, Material]]] = {}
    for item in items:
        for material in item.materials:
            asks.setdefault(material.key, []).append((item.code, material))
    return tuple(_merge_asks(asked, issuers.get(key, "")) for key, asked in asks.items())


def _merge_asks(asked: list[tuple[str, Material]], issuer: str) -> ChecklistEntry:
    materials = [material for _, material in asked]
    codes = tuple(dict.fromkeys(code for code, _ in asked))
    notes = dict.fromkeys(material.note for material in materials if material.note)
    merged = Material(
        key=materials[0].key,
        name=materials[0].name,
        form=max((material.form for material in materials), key=_FORM_STRICTNESS.__getitem__),
        count=max(material.count for material in materials),
        station_may_collect=all(material.station_may_collect for material in materials),
        note="；".join(notes),
        deferrable=all(material.deferrable for material in materials),  # 容缺 only where every item allows it
    )
    return ChecklistEntry(merged, codes, "" if issuer in codes else issuer)


@dataclass(frozen=True)
class Catalogue:
    """Every version of every item, and the bundles. New applications use an item's newest version."""

    versions: Mapping[str, tuple[ServiceItem, ...]]  # code → its versions, oldest first
    bundles: Mapping[str, Bundle]

    @classmethod
    def build(cls, items: Iterable[ServiceItem], bundles: Iterable[tuple[str, str, Sequence[str]]] = ()) -> Catalogue:
        """Assemble checked items and (code, name, item codes) bundles; `catalogue_import` does the checking."""
        versions: dict[str, list[ServiceItem]] = {}
        for item in items:
            versions.setdefault(item.code, []).append(item)
        ordered = {code: tuple(sorted(found, key=lambda item: item.version)) for code, found in versions.items()}
        made = {}
        for code, name, item_codes in bundles:
            members = [ordered[item_code][-1] for item_code in item_codes]
            made[code] = Bundle(code, name, tuple(item_codes), merge_checklist(members))
        return cls(ordered, made)

    def with_cross_region(self, listed: Catalogue) -> Catalogue:
        """This catalogue and the city's 通办 list (`cross_region_list`): what a station may file, its own
        county's items first (a county's own items stay its own, never handled as 通办 by itself)."""
        added = {code: versions for code, versions in listed.versions.items() if code not in self.versions}
        return dataclasses.replace(self, versions={**self.versions, **added}) if added else self

    def item(self, code: str, version: int | None = None) -> ServiceItem:
        """The given version of an item (an application's), or its newest; KeyError if there is none."""
        found = self.versions[code]
        if version is None:
            return found[-1]
        for item in found:
            if item.version == version:
                return item
        raise KeyError(f"{code} v{version}")

    def current(self) -> list[ServiceItem]:
        """The newest version of every item, by code."""
        return [self.versions[code][-1] for code in sorted(self.versions)]

    def search(self, query: str) -> list[ServiceItem]:
        """Current items matching every word of `query`, best first.

        A word matches an exact code, a name prefix, a code prefix, a substring of the name, the department or
        the category, ranked in that order; a common abbreviation (社保, 医保, 残联…) also matches its long form.
        Width and case are folded, so a code typed with a full-width IME still matches. Old versions are left
        out: nobody files under them any more.
        """
        words = _fold(query).split()
        if not words:
            return []
        ranked = []
        for item in self.current():
            ranks = [_best_rank(word, item) for word in words]
            if None not in ranks:
                ranked.append((max(r for r in ranks if r is not None), len(item.name), item.code, item))
        return [entry[-1] for entry in sorted(ranked, key=lambda entry: entry[:3])]

    def search_bundles(self, query: str) -> list[Bundle]:
        """Bundles whose name or code contains every word of `query`, by code."""
        words = _fold(query).split()
        found = [b for b in self.bundles.values() if words and all(w in _fold(b.name + " " + b.code) for w in words)]
        return sorted(found, key=lambda bundle: bundle.code)


def cross_region_list(counties: Mapping[str, tuple[str, Catalogue]], previous: Catalogue | None) -> Catalogue:
    """The city's 通办 list: every version of each item whose county marks its newest version 跨区域通办, each
    naming its county (`handler`, `handler_name`; `counties` maps each county's code to its name and
    catalogue). An item once listed keeps every version, newer ones too: applications filed under it are
    read by them, and a county withdraws an item by a newer version left unmarked."""
    listed = previous.versions if previous else {}
    items = {
        (item.code, item.version): dataclasses.replace(item, handler=region, handler_name=name)
        for region, (name, catalogue) in counties.items()
        for code, versions in catalogue.versions.items()
        if versions[-1].cross_region or code in listed
        for item in versions
    }
    for versions in listed.values():
        for item in versions:
            items.setdefault((item.code, item.version), item)
    return Catalogue.build(items.values())


def _fold(text: str) -> str:
    """Fold width and case (NFKC, casefold), so '１１５１' and 'mb' find '1151…MB…'."""
    return unicodedata.normalize("NFKC", text).casefold()


def _best_rank(word: str, item: ServiceItem) -> int | None:
    ranks = [_rank(form, item) for form in (word, ABBREVIATIONS.get(word)) if form]
    return min((rank for rank in ranks if rank is not None), default=None)


def _rank(word: str, item: ServiceItem) -> int | None:
    code, name = _fold(item.code), _fold(item.name)
    if word == code:
        return 0
    if name.startswith(word):
        return 1
    if code.startswith(word):
        return 2
    if word in name:
        return 3
    if word in _fold(item.department):
        return 4
    if word in _fold(item.category):
        return 5
    return None


def to_json(catalogue: Catalogue) -> str:
    """The canonical JSON form: every field written, items by code then version, bundles by code."""
    items = [_item_document(item) for code in sorted(catalogue.versions) for item in catalogue.versions[code]]
    bundles = [
        {"code": bundle.code, "name": bundle.name, "items": list(bundle.item_codes)}
        for bundle in (catalogue.bundles[code] for code in sorted(catalogue.bundles))
    ]
    return json.dumps({"format": FORMAT, "items": items, "bundles": bundles}, ensure_ascii=False, indent=2) + "\n"


def _item_document(item: ServiceItem) -> dict[str, Any]:
    return {
        "code": item.code,
        "version": item.version,
        "name": item.name,
        "department": item.department,
        "category": item.category,
        "level": item.level,
        "legal_limit": {"days": item.legal_limit.days, "unit": item.legal_limit.unit},
        "promised_limit": {"days": item.promised_limit.days, "unit": item.promised_limit.unit},
        "fee_fen": item.fee_fen,
        "proxy_allowed": item.proxy_allowed,
        "materials": [_material_document(material) for material in item.materials],
        "results": list(item.results),
        "change_note": item.change_note,
        "kind": item.kind,
        "eligibility": [{"rule": dict(c.rule), "reason": c.reason} for c in item.eligibility],
        "auto_approve": item.auto_approve,
        "delegated": list(item.delegated),
        **({"cross_region": True} if item.cross_region else {}),  # absent when false or empty: catalogues
        **({"handler": item.handler, "handler_name": item.handler_name} if item.handler else {}),  # written
        # before them read the same
    }


def _material_document(material: Material) -> dict[str, Any]:
    """A material's fields; `deferrable` only when true, so a catalogue written before it reads the same."""
    document = dataclasses.asdict(material)
    if not material.deferrable:
        del document["deferrable"]
    return document
