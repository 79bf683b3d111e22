"""The architecture's import contracts (pyproject.toml, [tool.importlinter]) hold: the packages' layers,
node/'s rooms in their order, no import cycle in any package, and each room's internals used only where they may be."""

from __future__ import annotations

from pathlib import Path

from importlinter.application.use_cases import lint_imports
from importlinter.configuration import configure

ROOT = Path(__file__).resolve().parents[2]


def test_every_import_contract_is_kept(capsys):
    configure()  # what the `lint-imports` command does first: readers of the settings, the graph builder
    kept = lint_imports(config_filename=str(ROOT / "pyproject.toml"), cache_dir=None, no_logo=True)
    assert kept, capsys.readouterr().out
