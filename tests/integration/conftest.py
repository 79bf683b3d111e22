"""Fixtures the integration tests share."""

from __future__ import annotations

import shutil

import pytest

from harness.tree import provision_village
from storage.database import db


@pytest.fixture(scope="module")
def village_template(tmp_path_factory):
    base = tmp_path_factory.mktemp("bundles")
    provision_village(base)
    return base


@pytest.fixture
def dirs(village_template, tmp_path):
    """A fresh copy of a provisioned city, county and village (SQLite), for tests that run `onetrip` on them."""
    db.close()
    for name in ("city", "county", "village"):
        shutil.copytree(village_template / name, tmp_path / name)
    yield tmp_path
    db.close()
