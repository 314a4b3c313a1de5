"""The built-in demo, README command 1's config, run on two CPU workers
(`--devices cpu,cpu`): the demo's results do not depend on where its stages
run (tests/test_parallel_runs.py compares the two paths score for score), and
on this 2-core CI machine two workers take ~2/3 of the sequential time of
what is the suite's longest test (470 s sequential)."""

from __future__ import annotations

import json

import pytest

from engine.config import load_config
from tests.conftest import REPO, run_engine

pytestmark = pytest.mark.slow

DEMO = REPO / "sample_configs" / "demo.toml"


def test_demo_runs_end_to_end_and_learns(workspace):
    cfg = load_config(DEMO)
    result = run_engine(
        "run", str(DEMO), "--workspace", str(workspace), "--devices", "cpu,cpu",
        timeout=1200,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    records = json.loads(
        run_engine("results", "--format", "json", "--workspace", str(workspace)).stdout
    )
    got = {(r["intermediate"], r["target"], r["language"]) for r in records}
    want = {
        (choice, target, lang)
        for choice in ("baseline", *cfg.intermediate)
        for target in cfg.targets
        for lang in cfg.task(target).languages
    }
    assert got == want
    for target in cfg.targets:
        chance = 1 / len(cfg.task(target).labels)
        english = [
            r["value"]
            for r in records
            if r["target"] == target and r["language"] == "en"
        ]
        # Real learning: the English score clearly above chance for every choice.
        assert min(english) > chance + 0.2, (target, english)

    table = run_engine("results", "--workspace", str(workspace))
    for target in cfg.targets:
        assert f"{target} · accuracy" in table.stdout
