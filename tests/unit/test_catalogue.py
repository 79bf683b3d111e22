"""The service catalogue: the shipped sample, search, 一件事 bundles, versions, and both import formats."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.catalogue.importing import BUNDLE_COLUMNS, ITEM_COLUMNS, LABELS, SAMPLE_PATH, CatalogueError, load_json
from node.catalogue.model import Catalogue, Material, ServiceItem, TimeLimit, code_problem, merge_checklist, to_json
from node.catalogue.spreadsheet import load_csv, to_csv

SAMPLE_CSV = Path(SAMPLE_PATH).with_name("catalogue_sample.csv")
RS = "11511302MB1002024J"  # a made-up department code with a valid check character
GA = "11511302MB10010137"
CATEGORIES = {"户籍", "社会保险", "医疗保障", "民政", "残疾人服务", "农业农村", "卫生健康", "市场监管"}


@cache
def sample() -> Catalogue:
    return load_json(SAMPLE_PATH.read_text("utf-8"))


def code(serial: int, department: str = RS) -> str:
    return f"{department}-{serial:04d}"


def item_row(**changes: str) -> dict[str, str]:
    """One CSV row of a valid item with one material, by field key; `changes` override it."""
    row = {
        "code": code(1),
        "version": "1",
        "name": "城乡居民基本养老保险参保登记",
        "department": "南充市顺庆区人力资源和社会保障局",
        "category": "社会保险",
        "level": "乡镇",
        "legal_days": "15",
        "legal_unit": "工作日",
        "promised_days": "5",
        "promised_unit": "工作日",
        "fee": "0",
        "proxy_allowed": "是",
        "material_key": "id_card",
        "material_name": "申请人居民身份证",
        "form": "原件",
        "count": "1",
        "station_may_collect": "是",
    }
    return row | changes


def material_row(**changes: str) -> dict[str, str]:
    """A continuation row: item columns blank, as Excel saves merged cells."""
    row = {"material_key": "household_register", "material_name": "居民户口簿", "form": "复印件", "count": "1"}
    return row | {"station_may_collect": "是"} | changes


def sheet(*rows: dict[str, str], title: str = "") -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    if title:
        writer.writerow([title])
    writer.writerow(LABELS[key] for key in ITEM_COLUMNS)
    for row in rows:
        writer.writerow(row.get(key, "") for key in ITEM_COLUMNS)
    return out.getvalue()


def bundle_sheet(*rows: tuple[str, str, str]) -> str:
    return "一件事编码,一件事名称,事项编码\n" + "".join(",".join(row) + "\n" for row in rows)


def json_item(**changes) -> dict:
    item = {
        "code": code(1),
        "version": 1,
        "name": "城乡居民基本养老保险参保登记",
        "department": "南充市顺庆区人力资源和社会保障局",
        "category": "社会保险",
        "level": "township",
        "legal_limit": {"days": 15, "unit": "working"},
        "promised_limit": {"days": 5, "unit": "working"},
        "fee_fen": 0,
        "proxy_allowed": True,
        "materials": [
            {"key": "id_card", "name": "申请人居民身份证", "form": "original", "count": 1, "station_may_collect": True}
        ],
    }
    return item | changes


def json_doc(items: list[dict], bundles: list[dict] | None = None) -> str:
    return json.dumps({"format": "onetrip-catalogue/1", "items": items, "bundles": bundles or []}, ensure_ascii=False)


def problems_of(load, *args) -> list[tuple[str, str, str]]:
    with pytest.raises(CatalogueError) as caught:
        load(*args)
    return [(p.location, p.field, p.message) for p in caught.value.problems]


def material(key: str, form: str = "original", count: int = 1, collect: bool = True, note: str = "") -> Material:
    return Material(key, {"id_card": "申请人居民身份证", "photo": "照片"}.get(key, key), form, count, collect, note)


def service_item(serial: int, name: str, materials: tuple[Material, ...], **changes) -> ServiceItem:
    fields = dict(
        code=code(serial),
        version=1,
        name=name,
        department="南充市顺庆区人力资源和社会保障局",
        category="社会保险",
        level="county",
        legal_limit=TimeLimit(20, "working"),
        promised_limit=TimeLimit(10, "working"),
        fee_fen=0,
        proxy_allowed=True,
        materials=materials,
    )
    return ServiceItem(**(fields | changes))


# The shipped sample


def test_the_shipped_sample_loads_and_has_the_items_and_bundles_the_issue_asks_for():
    catalogue = sample()
    assert len(catalogue.current()) >= 32
    names = {bundle.name for bundle in catalogue.bundles.values()}
    assert {"出生一件事", "退休一件事", "身后一件事"} <= names
    assert all(len(bundle.item_codes) >= 2 for bundle in catalogue.bundles.values())


def test_every_category_of_the_issue_is_in_the_sample():
    assert CATEGORIES <= {item.category for item in sample().current()}


def test_the_sample_is_plausible_promises_within_the_law_mostly_free_every_item_with_materials():
    items = sample().current()
    assert all(item.promised_limit.fits_within(item.legal_limit) for item in items)
    assert sum(item.fee_fen > 0 for item in items) <= 3
    assert all(item.materials for item in items)
    assert any(not item.proxy_allowed for item in items)
    assert {item.level for item in items} == {"township", "county"}
    assert all(code_problem(item.code) is None for item in items)


def test_the_sample_is_written_in_canonical_form():
    text = SAMPLE_PATH.read_text("utf-8")
    assert to_json(load_json(text)) == text


def test_the_sample_csv_round_trips_and_says_what_the_json_says():
    data = SAMPLE_CSV.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf"), "saved as Excel saves CSV UTF-8"
    catalogue = load_csv(data)
    assert to_csv(catalogue) == data.decode("utf-8-sig")
    assert len(catalogue.versions) >= 3
    for item_code, versions in catalogue.versions.items():
        assert versions == sample().versions[item_code]


# Versions


def test_an_application_keeps_the_version_it_was_filed_under_while_new_ones_get_the_newest():
    catalogue = sample()
    item_code = code(2)
    old, new = catalogue.item(item_code, 1), catalogue.item(item_code)
    assert (old.version, new.version) == (1, 2)
    assert len(new.materials) < len(old.materials)
    assert new.change_note
    with pytest.raises(KeyError):
        catalogue.item(item_code, 3)


def test_search_offers_only_the_newest_version():
    found = [item for item in sample().search("城乡居民基本养老保险待遇申领")]
    assert [(item.code, item.version) for item in found] == [(code(2), 2)]


# Search


def test_search_by_chinese_name_finds_the_item():
    assert [item.name for item in sample().search("个体工商户")][:3] == [
        "个体工商户设立登记",
        "个体工商户变更登记",
        "个体工商户注销登记",
    ]
    assert "出生登记（新生儿入户）" in [item.name for item in sample().search("新生儿入户")]


def test_search_by_code_finds_the_item_first_and_a_department_code_finds_its_items():
    assert sample().search(code(1, GA))[0].code == code(1, GA)
    by_department = sample().search(GA)
    assert by_department and all(item.department == "南充市公安局顺庆区分局" for item in by_department)


def test_search_by_department_name_finds_its_items():
    found = sample().search("民政局")
    assert found and {item.department for item in found} == {"南充市顺庆区民政局"}


def test_search_folds_width_and_case_and_knows_common_abbreviations():
    typed = "１１５１１３０２ｍｂ１００１０１３７－０００１"  # a full-width IME
    assert sample().search(typed)[0].code == code(1, GA)
    assert {item.category for item in sample().search("医保")} == {"医疗保障"}
    assert [item.name for item in sample().search("残联 注销")] == ["残疾人证注销"]


def test_search_ranks_exact_code_then_name_prefix_then_substring():
    items = [
        service_item(1, "办理社会保障卡", (material("id_card"),)),
        service_item(2, "社会保障卡申领", (material("id_card"),)),
        service_item(3, "失业保险金申领", (material("id_card"),)),
    ]
    catalogue = Catalogue.build(items)
    assert [item.code for item in catalogue.search("社会保障卡")] == [code(2), code(1)]
    assert catalogue.search(code(3))[0].code == code(3)
    assert [item.code for item in catalogue.search("申领 保障卡")] == [code(2)]


def test_a_blank_query_finds_nothing():
    assert sample().search("  \u3000 ") == []


def test_bundles_are_found_by_name():
    assert [bundle.name for bundle in sample().search_bundles("出生")] == ["出生一件事"]


@given(st.text())
def test_search_never_raises_on_any_text(query):
    assert isinstance(sample().search(query), list)
    assert isinstance(sample().search_bundles(query), list)


# Bundles


def test_a_material_shared_by_several_items_of_a_bundle_is_asked_once():
    newborn = next(bundle for bundle in sample().bundles.values() if bundle.name == "出生一件事")
    keys = [entry.material.key for entry in newborn.checklist]
    assert len(keys) == len(set(keys))
    parents = next(entry for entry in newborn.checklist if entry.material.key == "parents_id_cards")
    assert len(parents.item_codes) >= 3
    asked = sum(len(sample().item(item_code).materials) for item_code in newborn.item_codes)
    assert len(newborn.checklist) < asked


def test_a_material_one_item_of_the_bundle_issues_is_not_asked_of_the_applicant():
    death = next(bundle for bundle in sample().bundles.values() if bundle.name == "身后一件事")
    certificate = next(e for e in death.checklist if e.material.key == "death_medical_certificate")
    assert sample().item(certificate.issued_by).name == "居民死亡医学证明（推断）书签发"
    assert certificate not in death.to_ask()
    assert "cremation_certificate" in {entry.material.key for entry in death.to_ask()}


def test_a_merged_material_takes_the_strictest_form_the_largest_count_and_the_village_only_if_all_allow():
    first = service_item(1, "甲", (material("id_card", "copy", 1, True, "复印正反面"), material("photo", "either")))
    second = service_item(2, "乙", (material("id_card", "original", 2, False, "核验原件"),))
    id_card, photo = merge_checklist([first, second])
    assert id_card.material == Material("id_card", "申请人居民身份证", "original", 2, False, "复印正反面；核验原件")
    assert id_card.item_codes == (code(1), code(2))
    assert photo.material.form == "either" and photo.item_codes == (code(1),)


def test_an_item_that_both_issues_and_asks_for_a_material_still_asks_for_it():
    registration = service_item(1, "出生登记", (material("household_register"),), results=("household_register",))
    insurance = service_item(2, "医保参保", (material("household_register"),))
    (entry,) = merge_checklist([registration, insurance])
    assert entry.issued_by == ""


# Time limits


@pytest.mark.parametrize(
    ("promised", "legal", "fits"),
    [
        ((5, "working"), (15, "working"), True),
        ((15, "working"), (15, "working"), True),
        ((16, "working"), (15, "working"), False),
        ((20, "working"), (60, "calendar"), True),
        ((10, "working"), (10, "calendar"), False),
        ((7, "calendar"), (5, "working"), True),
        ((0, "working"), (0, "working"), True),
    ],
)
def test_a_promise_fits_within_the_law_counting_five_working_days_to_seven(promised, legal, fits):
    assert TimeLimit(*promised).fits_within(TimeLimit(*legal)) is fits


def test_a_limit_reads_as_an_official_would_write_it():
    assert [str(TimeLimit(20, "working")), str(TimeLimit(60, "calendar")), str(TimeLimit(0, "working"))] == [
        "20个工作日",
        "60个自然日",
        "即办",
    ]


# CSV import


def test_a_csv_item_spans_rows_with_item_cells_left_blank_or_repeated():
    merged = load_csv(sheet(item_row(), material_row()))
    filled = load_csv(sheet(item_row(), item_row(**material_row())))
    assert merged == filled
    (item,) = merged.current()
    assert [m.name for m in item.materials] == ["申请人居民身份证", "居民户口簿"]
    assert (item.level, item.legal_limit, item.promised_limit) == ("township", (15, "working"), (5, "working"))


def test_csv_reads_utf8_with_the_bom_excel_writes_and_gb18030_from_plain_excel_csv():
    text = sheet(item_row())
    expected = load_csv(text)
    assert load_csv(("\ufeff" + text).encode("utf-8")) == expected
    assert load_csv("\ufeff" + text) == expected
    assert load_csv(text.encode("gb18030")) == expected


def test_csv_finds_the_header_under_a_title_row_and_numbers_rows_as_excel_does():
    rows = [item_row(), item_row(code=code(2), promised_days="30")]
    problems = problems_of(load_csv, sheet(*rows, title="顺庆区政务服务事项实施清单"))
    assert problems == [("第 4 行", "承诺时限", "承诺时限不能长于法定时限")]


def test_csv_reports_a_promise_longer_than_the_law_with_its_row():
    rows = [item_row(code=code(serial)) for serial in range(1, 11)] + [item_row(code=code(11), promised_days="30")]
    with pytest.raises(CatalogueError) as caught:
        load_csv(sheet(*rows))
    assert [str(problem) for problem in caught.value.problems] == ["第 12 行：承诺时限不能长于法定时限"]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"count": "0"}, "份数", "份数至少为 1"),
        ({"level": "市级"}, "决定层级", "决定层级应填 乡镇、县级 之一"),
        ({"legal_unit": "天"}, "法定时限单位", "法定时限单位应填 工作日、自然日 之一"),
        ({"form": "扫描件"}, "原件或复印件", "原件或复印件应填 原件、复印件、原件或复印件 之一"),
        ({"proxy_allowed": "也许"}, "可否代办", "可否代办应填“是”或“否”"),
        ({"fee": "-5"}, "收费标准（元）", "收费标准（元）应填不小于 0 的金额，最多两位小数，免费填 0"),
        ({"version": "0"}, "版本", "版本至少为 1"),
        ({"name": ""}, "事项名称", "事项名称不能为空"),
        ({"code": "11511302MB10020240-0001"}, "事项编码", "事项编码中统一社会信用代码的校验位不对，请核对是否抄错"),
        (
            {"code": "11511302MB1002024J-1"},
            "事项编码",
            "事项编码应为“18 位统一社会信用代码-4 位序号”，如 11511302MB10040469-0001",
        ),
    ],
)
def test_csv_reports_each_wrong_cell_with_its_row_and_column(changes, field, message):
    assert problems_of(load_csv, sheet(item_row(**changes))) == [("第 2 行", field, message)]


def test_csv_refuses_the_same_code_and_version_twice():
    problems = problems_of(load_csv, sheet(item_row(), item_row(code=code(2)), item_row()))
    assert problems == [("第 4 行", "事项编码", f"事项 {code(1)} 第 1 版重复（第 2 行已有）")]


def test_csv_keeps_two_versions_of_one_code():
    catalogue = load_csv(sheet(item_row(), item_row(version="2", promised_days="3")))
    assert [item.promised_limit.days for item in catalogue.versions[code(1)]] == [5, 3]


def test_csv_refuses_continuation_rows_that_contradict_their_item():
    problems = problems_of(load_csv, sheet(item_row(), material_row(name="别的名称")))
    assert problems == [("第 3 行", "事项名称", "事项名称与第 2 行不一致")]


def test_csv_refuses_one_material_key_under_two_names_and_a_department_code_under_two_names():
    rows = [item_row(), item_row(code=code(2), material_name="身份证", department="顺庆区人社局")]
    assert problems_of(load_csv, sheet(*rows)) == [
        (
            "第 3 行",
            "实施部门",
            f"统一社会信用代码 {RS} 在第 2 行属于“南充市顺庆区人力资源和社会保障局”，此处却是“顺庆区人社局”",
        ),
        (
            "第 3 行",
            "材料名称",
            "材料代码“id_card”在第 2 行是“申请人居民身份证”，此处却是“身份证”：同一代码须用同一名称",
        ),
    ]


def test_csv_reports_every_problem_at_once():
    rows = [
        item_row(promised_days="30"),
        material_row(count="0"),
        item_row(code=code(2), level="省级", fee="很多"),
        item_row(code=code(3), legal_unit=""),
    ]
    fields = [(location, field) for location, field, _ in problems_of(load_csv, sheet(*rows))]
    assert fields == [
        ("第 2 行", "承诺时限"),
        ("第 3 行", "份数"),
        ("第 4 行", "决定层级"),
        ("第 4 行", "收费标准（元）"),
        ("第 5 行", "法定时限单位"),
    ]


def test_csv_reads_what_clerks_type():
    row = item_row(code=code(1).lower(), level="县", fee="12.5", proxy_allowed="否", form="原件或复印件均可")
    (item,) = load_csv(sheet(row)).current()
    assert (item.code, item.level, item.fee_fen, item.proxy_allowed) == (code(1), "county", 1250, False)
    assert item.materials[0].form == "either"


def test_csv_without_a_material_key_merges_materials_by_name():
    (item,) = load_csv(sheet(item_row(material_key=""))).current()
    assert item.materials[0].key == "申请人居民身份证"


def test_csv_reports_missing_columns_and_an_unreadable_file():
    assert problems_of(load_csv, "事项编码,事项名称\n")[0][:2] == ("第 1 行", "版本")
    assert problems_of(load_csv, "名称,部门\n") == [("第 1 行", "", "找不到表头：应有一行列名，至少含“事项编码”")]
    assert problems_of(load_csv, b"\xff\xfe\x00\x80")[0][2].startswith("文件编码无法识别")


def test_csv_bundles_come_from_their_own_sheet_and_must_list_known_items():
    items = sheet(item_row(), item_row(code=code(2), name="城乡居民基本养老保险待遇申领"))
    good = bundle_sheet(("YJS-1", "退休一件事", code(1)), ("", "", code(2)))
    assert load_csv(items, good).bundles["YJS-1"].item_codes == (code(1), code(2))
    bad = bundle_sheet(("YJS-1", "退休一件事", code(1)), ("", "", code(9)), ("YJS-2", "单项", code(1)))
    assert problems_of(load_csv, items, bad) == [
        ("一件事表第 2 行", "事项编码", f"事项 {code(9)} 不在清单中"),
        ("一件事表第 4 行", "事项编码", "一件事至少要包含两个事项"),
    ]


def test_to_csv_writes_what_load_csv_reads():
    """All but the conditions, 秒办 and delegations: rules are published in the JSON catalogue only."""
    plain = [
        dataclasses.replace(item, eligibility=(), auto_approve=False, delegated=())
        for versions in sample().versions.values()
        for item in versions
    ]
    assert load_csv(to_csv(sample())) == Catalogue.build(plain)


# JSON import


def test_json_round_trips_through_the_catalogue():
    text = json_doc(
        [json_item(), json_item(code=code(2))], [{"code": "B1", "name": "一件事", "items": [code(1), code(2)]}]
    )
    catalogue = load_json(text)
    assert load_json(to_json(catalogue)) == catalogue
    assert to_json(load_json(to_json(catalogue))) == to_json(catalogue)


def test_json_reports_each_rule_with_its_path_and_key():
    items = [
        json_item(promised_limit={"days": 20, "unit": "working"}),
        json_item(code=code(2), level="city", legal_limit={"days": 15, "unit": "weeks"}),
        json_item(code=code(3), materials=[{"name": "照片", "form": "copy", "count": 0, "station_may_collect": True}]),
        json_item(),
    ]
    bundles = [
        {"code": "B1", "name": "单项", "items": [code(1)]},
        {"code": "B2", "name": "缺项", "items": [code(1), code(8)]},
    ]
    assert problems_of(load_json, json_doc(items, bundles)) == [
        ("items[0]", "promised_limit.days", "承诺时限不能长于法定时限"),
        ("items[1]", "level", "决定层级应为 township、county 之一"),
        ("items[1]", "legal_limit.unit", "法定时限单位应为 working、calendar 之一"),
        ("items[2].materials[0]", "count", "份数至少为 1"),
        ("items[3]", "code", f"事项 {code(1)} 第 1 版重复（items[0]已有）"),
        ("bundles[0]", "items", "一件事至少要包含两个事项"),
        ("bundles[1]", "items", f"事项 {code(8)} 不在清单中"),
    ]


def test_json_reports_wrong_types_rather_than_crashing():
    item = json_item(version="1", fee_fen=True, proxy_allowed="是", materials="身份证")
    del item["name"]
    fields = [field for _, field, _ in problems_of(load_json, json_doc([item]))]
    assert fields == ["version", "name", "fee_fen", "proxy_allowed", "materials"]


def test_json_that_does_not_parse_is_one_problem_with_its_line():
    assert problems_of(load_json, '{"items": [\n}') == [("第 2 行第 1 列", "", "不是有效的 JSON")]


@given(st.text())
def test_any_text_either_loads_or_raises_a_catalogue_error(text):
    for load in (load_json, load_csv):
        try:
            load(text)
        except CatalogueError as error:
            assert error.problems


def test_csv_numbers_rows_as_excel_does_even_after_a_cell_with_line_breaks():
    rows = [item_row(), material_row(note="第一行\n第二行"), item_row(code=code(2), count="0")]
    assert problems_of(load_csv, sheet(*rows)) == [("第 4 行", "份数", "份数至少为 1")]


def test_csv_columns_may_come_in_any_order_and_unknown_columns_are_ignored():
    text = sheet(item_row(), material_row())
    table = list(csv.reader(io.StringIO(text)))
    shuffled = [["序号", *reversed(row)] for row in table]
    out = io.StringIO()
    csv.writer(out).writerows(shuffled)
    assert load_csv(out.getvalue()) == load_csv(text)


def test_every_column_and_key_is_documented():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "catalogue.md").read_text("utf-8")
    keys = ["code", "version", "level", "legal_limit", "promised_limit", "fee_fen", "proxy_allowed", "results"]
    keys += ["change_note", "materials", "key", "form", "count", "station_may_collect", "note"]
    columns = [LABELS[key] for key in ITEM_COLUMNS + BUNDLE_COLUMNS]
    missing = [label for label in columns if label not in docs] + [key for key in keys if f"`{key}`" not in docs]
    assert not missing


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)


@given(
    st.dictionaries(st.sampled_from(sorted(json_item())), JSON_VALUES, max_size=3), st.lists(JSON_VALUES, max_size=2)
)
def test_any_json_value_in_any_field_is_a_problem_reported_never_a_crash(changes, bundles):
    try:
        load_json(json_doc([json_item(**changes), json_item(code=code(2))], bundles))
    except CatalogueError as error:
        assert error.problems


# 容缺: materials marked deferrable (非关键材料)


def test_a_material_is_deferrable_only_when_the_json_says_true():
    materials = [
        {"key": "id_card", "name": "申请人居民身份证", "form": "original", "count": 1, "station_may_collect": True},
        {
            "key": "photo",
            "name": "照片",
            "form": "original",
            "count": 1,
            "station_may_collect": True,
            "deferrable": True,
        },
    ]
    item = load_json(json_doc([json_item(materials=materials)])).item(code(1))
    assert [m.deferrable for m in item.materials] == [False, True]
    assert '"deferrable": true' in to_json(Catalogue.build([item]))
    assert to_json(Catalogue.build([item])).count('"deferrable"') == 1  # written only where true


def test_a_deferrable_that_is_not_true_or_false_is_reported():
    materials = [{"key": "id_card", "name": "申请人居民身份证", "form": "original", "count": 1}]
    materials[0] |= {"station_may_collect": True, "deferrable": "是"}
    assert problems_of(load_json, json_doc([json_item(materials=materials)])) == [
        ("items[0].materials[0]", "deferrable", "可容缺应为 true 或 false")
    ]


def test_the_sheet_reads_deferrable_under_its_chinese_header_and_a_blank_is_no():
    text = sheet(
        item_row(deferrable="否"),
        material_row(deferrable="是"),
        material_row(material_key="photo", material_name="照片"),
    )
    item = load_csv(text).item(code(1))
    assert [(m.key, m.deferrable) for m in item.materials] == [
        ("id_card", False),
        ("household_register", True),
        ("photo", False),
    ]
    assert problems_of(load_csv, sheet(item_row(deferrable="也许"))) == [("第 2 行", "可容缺", "可容缺应填“是”或“否”")]


def test_a_sheet_without_the_deferrable_column_still_reads():
    table = list(csv.reader(io.StringIO(sheet(item_row(), material_row()))))
    out = io.StringIO()
    csv.writer(out).writerows(row[:-1] for row in table)  # the last column is 可容缺
    assert not any(m.deferrable for m in load_csv(out.getvalue()).item(code(1)).materials)


def test_the_sample_marks_a_few_materials_deferrable_and_never_an_identity_card():
    deferrable = [(i.code, m.key) for i in sample().current() for m in i.materials if m.deferrable]
    assert 5 <= len(deferrable) <= 20
    assert not [key for _, key in deferrable if "id_card" in key]


def test_a_bundle_asks_a_material_as_deferrable_only_if_every_item_allows_it():
    one = ServiceItem(
        **{**vars(sample().item(code(1))), "materials": (Material("photo", "照片", "original", deferrable=True),)}
    )
    two = ServiceItem(
        **{**vars(sample().item(code(1))), "code": code(2), "materials": (Material("photo", "照片", "copy"),)}
    )
    assert not merge_checklist([one, two])[0].material.deferrable
    assert merge_checklist([one, one])[0].material.deferrable
