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


def test_every_config_field_is_documented():
    operations = (ROOT / "docs" / "operations.md").read_text("utf-8")
    for field in dataclasses.fields(NodeConfig):
        if field.name != "data_dir":
            assert f"`{field.name}`" in operations, field.name


def test_every_error_code_is_documented():
    architecture = (ROOT / "docs" / "architecture.md").read_text("utf-8")
    codes = set()
    for package in ("storage", "sync", "provisioning", "node"):
        for info in pkgutil.iter_modules([str(ROOT / package)]):
            module = importlib.import_module(f"{package}.{info.name}")
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if issubclass(cls, Exception) and isinstance(cls.__dict__.get("code"), str):
                    codes.add(cls.code)
    for source in (ROOT / "sync").glob("*.py"):  # ChainError takes its code as its first argument
        codes |= set(re.findall(r'ChainError\(\s*"(\w+)"', source.read_text("utf-8")))
    missing = sorted(code for code in codes if f"`{code}`" not in architecture)
    assert not missing, f"undocumented error codes: {missing}"
