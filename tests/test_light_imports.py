"""The modules the TUI and --dry-run read must not pull in torch or transformers,
and the engine never imports textual."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO

LIGHT_MODULES = [
    "engine.config",
    "engine.events",
    "engine.store",
    "engine.tasks",
    "engine.pipeline",
    "engine.report",
    "engine.workspace",
    "engine.cli",
    "engine.launch",
    "engine.control",
    "engine.jsonl",
    "engine.display",
    "engine.xtreme_report",
    "engine.metrics.squad",
    "engine.metrics.mlqa",
    "engine.metrics.tagging",
    "engine.metrics.retrieval",
    "engine.codeeval",
    "engine.codeeval.contamination",
    "engine.codegen.generate",
]
HEAVY = ("torch", "transformers", "datasets", "textual")


def top_level_modules_after(*modules: str) -> set[str]:
    """Top-level packages in sys.modules after importing `modules` in a fresh
    interpreter (this process has torch loaded already)."""
    code = (
        "import sys, json, importlib\n"
        f"for m in {list(modules)!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    return set(json.loads(out.stdout))


@pytest.mark.parametrize("module", LIGHT_MODULES)
def test_light_module_does_not_load_heavy_libraries(module):
    loaded = top_level_modules_after(module)
    assert not loaded & set(HEAVY), f"{module} loads {sorted(loaded & set(HEAVY))}"


def test_engine_never_imports_textual():
    modules = sorted(
        "engine." + ".".join(p.relative_to(REPO / "engine").with_suffix("").parts)
        for p in (REPO / "engine").rglob("*.py")
        if p.name != "__init__.py"
    )
    assert "textual" not in top_level_modules_after(*modules)


def test_tui_never_imports_torch_or_transformers():
    modules = sorted(
        "xlt_tui." + ".".join(p.relative_to(REPO / "xlt_tui").with_suffix("").parts)
        for p in (REPO / "xlt_tui").rglob("*.py")
        if p.name != "__init__.py"
    )
    assert "xlt_tui.app" in modules and "xlt_tui.screens.monitor" in modules
    loaded = top_level_modules_after(*modules)
    assert not loaded & {"torch", "transformers", "datasets"}
