"""The import contracts in pyproject.toml ([tool.importlinter]) hold, and they
are not decoration: an import that points up a layer (even one hidden inside a
function) or a TUI module reaching for the training side breaks them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    # PYTHONPATH first: the packages under `root` are the ones analysed, not
    # the editable install's.
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def copy_of_repo(tmp_path: Path) -> Path:
    for name in ("engine", "xlt_tui"):
        shutil.copytree(
            REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_repository_keeps_every_contract():
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    "module, line, broken",
    [
        # A low layer reaching up, hidden in a function (the kind of cycle
        # kinds -> codegen -> train -> kinds used to be).
        (
            "engine/data/rows.py",
            "def _upward():\n    from engine.stages import execute_stage\n",
            (
                "The engine's layers only point down",
                "engine.data.rows -> engine.stages",
            ),
        ),
        (
            "engine/metrics/squad.py",
            "import engine.kinds.span_qa\n",
            (
                "The engine's layers only point down",
                "engine.metrics.squad -> engine.kinds",
            ),
        ),
        (
            "xlt_tui/screens/runs.py",
            "from engine.runner import PlanRunner\n",
            ("never the training side", "xlt_tui.screens.runs -> engine.runner"),
        ),
        (
            "engine/store.py",
            "import textual\n",
            ("The engine never imports the TUI or textual", "engine.store -> textual"),
        ),
    ],
    ids=["data-up-to-stages", "metrics-up-to-kinds", "tui-to-runner", "textual"],
)
def test_an_upward_import_breaks_a_contract(copy_of_repo, module, line, broken):
    path = copy_of_repo / module
    path.write_text(path.read_text(encoding="utf-8") + "\n\n" + line, encoding="utf-8")
    result = lint_imports(copy_of_repo)
    contract, arrow = broken
    assert result.returncode != 0, result.stdout
    status = [line for line in result.stdout.splitlines() if contract in line]
    assert any(line.endswith("BROKEN") for line in status), result.stdout
    assert arrow in result.stdout, result.stdout
