"""Sampling and greedy decoding through the real pipeline (tiny causal LM):
pass@k and pass@1-greedy stored, the greedy completions kept apart, the
backend recorded, and `results --ci` showing pass@k intervals and McNemar's
test for the code target."""

from __future__ import annotations

import json

import pytest

from engine.store import Store
from tests.conftest import run_engine
from tests.test_code_pipeline import config_text, write


@pytest.mark.slow
def test_samples_and_greedy_are_scored_apart_and_compared(tmp_path):
    text = (
        config_text()
        .replace('humaneval-xl = ["en", "es", "ru"]', 'humaneval-xl = ["en", "es"]')
        .replace(
            "max_new_tokens = 12",
            "max_new_tokens = 12\ndo_sample = true\nn_samples = 2\ntemperature = 0.8",
        )
    )
    config = write(tmp_path, text)
    ws = tmp_path / "ws"
    out = run_engine(
        "run", str(config), "--workspace", str(ws), "--plain", "--allow-code-execution"
    )
    assert out.returncode == 0, out.stderr[-3000:] + out.stdout[-3000:]
    results = Store(ws / "xlt.json").results()
    for r in results:
        assert r["generation"]["greedy"] is True
        assert r["metric"] == "pass@1"  # from the samples
        assert {"pass@1", "pass@1-greedy"} <= set(r["metrics"])
        assert r["metrics"]["samples_per_problem"] == 2
        assert r["generation"]["backend"] == "transformers"
        assert "fell back to transformers" in r["generation"]["backend_note"]
    greedy_files = list((ws / "stages").glob("*/generations/es.greedy.jsonl"))
    assert len(greedy_files) == 2  # baseline and mbpp
    rows = [json.loads(line) for line in greedy_files[0].open()]
    assert rows and all(row["decoding"] == "greedy" for row in rows)
    sampled = list((ws / "stages").glob("*/generations/es.jsonl"))[0]
    assert len(sampled.read_text().splitlines()) == 2 * len(rows)
    report = run_engine(
        "results", "--target", "humaneval-xl", "--workspace", str(ws), "--ci",
        "--format", "markdown", "--resamples", "100",
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    assert "percentile bootstrap over problems" in report.stdout
    assert "McNemar's exact test on greedy pass" in report.stdout
    assert "mbpp es: solved only by it" in report.stdout
