"""The docs stay honest: every config field and every error code is documented."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

from node.config import NodeConfig

ROOT = Path(__file__).resolve().parents[2]


def test_the_settings_table_has_a_row_for_each_setting_and_no_other():
    operations = (ROOT / "docs" / "operations.md").read_text("utf-8")
    rows = set(re.findall(r"^\| `(\w+)` \|", operations, re.M))
    settings = {field.name for field in dataclasses.fields(NodeConfig)} - {"data_dir"}  # --data, not a setting
    assert rows == settings, f"missing rows: {sorted(settings - rows)}; rows of no setting: {sorted(rows - settings)}"


def test_every_error_code_is_documented():
    architecture = (ROOT / "docs" / "architecture.md").read_text("utf-8")
    codes = set()
    for package in ("storage", "sync", "provisioning", "node"):
        for info in pkgutil.walk_packages([str(ROOT / package)], prefix=f"{package}."):  # rooms included
            module = importlib.import_module(info.name)
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if issubclass(cls, Exception) and isinstance(cls.__dict__.get("code"), str):
                    codes.add(cls.code)
    for source in (ROOT / "sync").glob("*.py"):  # ChainError takes its code as its first argument
        codes |= set(re.findall(r'ChainError\(\s*"(\w+)"', source.read_text("utf-8")))
    missing = sorted(code for code in codes if f"`{code}`" not in architecture)
    assert not missing, f"undocumented error codes: {missing}"
