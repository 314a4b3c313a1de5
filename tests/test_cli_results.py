"""`xlt-engine results` as a script or a person over SSH reads it: which run it
shows, what it says for a run without scores or an unknown target, and
exports that stand on their own (CSV readable as JSON, Markdown/LaTeX naming
the run and model, piped tables never cut)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess

from engine.store import Store
from tests.conftest import REPO, engine_cmd


def result(run_id, target, lang, value, model="xlt-tiny", intermediate="baseline"):
    return {
        "run_id": run_id,
        "seed": 1,
        "model": model,
        "intermediate": intermediate,
        "target": target,
        "language": lang,
        "split": "test",
        "metric": "accuracy",
        "value": value,
        "n_examples": 10,
        "metrics": {"accuracy": value, "f1": value - 0.01},
    }


def workspace_with_runs(tmp_path) -> str:
    """old: finished; new: started later, failed half-way with one score;
    stopped: cancelled before scoring anything."""
    store = Store(tmp_path / "xlt.json")
    store.create_run(
        {"id": "old", "status": "finished", "started_at": 1.0, "ended_at": 50.0}
    )
    store.create_run(
        {"id": "new", "status": "failed", "started_at": 10.0, "ended_at": 20.0}
    )
    store.create_run(
        {"id": "stopped", "status": "cancelled", "started_at": 30.0, "ended_at": 31.0}
    )
    store.add_results(
        [
            result("old", "sentiment", "en", 0.81, model="model-of-old"),
            result("old", "sentiment", "de", 0.62, model="model-of-old"),
            result("old", "paws", "de", 0.55, model="model-of-old"),
            result("new", "sentiment", "en", 0.11, model="model-of-new"),
        ]
    )
    return str(tmp_path)


def engine(*args, columns=None):
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    if columns:
        env["COLUMNS"] = str(columns)
    return subprocess.run(
        engine_cmd(*args),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env=env,
    )


def test_default_is_latest_finished_run_and_help_says_so(tmp_path):
    ws = workspace_with_runs(tmp_path)
    out = engine("results", "-f", "json", "--workspace", ws)
    assert out.returncode == 0, out.stderr
    assert {r["run_id"] for r in json.loads(out.stdout)} == {"old"}
    helptext = engine("results", "--help", columns=200).stdout
    assert "latest finished run" in " ".join(helptext.split())


def test_run_without_scores_is_exit_2_with_its_status(tmp_path):
    ws = workspace_with_runs(tmp_path)
    out = engine("results", "--run", "stopped", "--workspace", ws)
    assert out.returncode == 2
    assert "run 'stopped' (cancelled) has no results" in out.stderr
    assert "runs with results: old, new" in out.stderr
    assert "Traceback" not in out.stderr


def test_unknown_target_lists_targets_nearest_first(tmp_path):
    ws = workspace_with_runs(tmp_path)
    out = engine("results", "--target", "pawz", "--workspace", ws)
    assert out.returncode == 2
    assert "no results yet" not in out.stderr
    assert "targets with results: paws, sentiment" in out.stderr
    out = engine("results", "--run", "old", "--target", "sentimnt", "--workspace", ws)
    assert out.returncode == 2
    assert "its targets: sentiment, paws" in out.stderr


def test_csv_metrics_column_is_json(tmp_path):
    ws = workspace_with_runs(tmp_path)
    out = engine("results", "-f", "csv", "--workspace", ws)
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert json.loads(rows[0]["metrics"]) == {"accuracy": 0.81, "f1": 0.8}


def test_markdown_and_latex_name_run_and_model(tmp_path):
    ws = workspace_with_runs(tmp_path)
    md = engine("results", "-f", "markdown", "--workspace", ws)
    assert md.returncode == 0, md.stderr
    assert md.stdout.splitlines()[0] == "Run `old` (finished); model `model-of-old`"
    tex = engine("results", "-f", "latex", "--run", "new", "--workspace", ws)
    assert tex.returncode == 0, tex.stderr
    assert tex.stdout.splitlines()[0] == "% run new (failed); model model-of-new"


def test_piped_table_is_not_cut_at_80_columns(tmp_path):
    store = Store(tmp_path / "xlt.json")
    store.create_run(
        {"id": "wide", "status": "finished", "started_at": 1.0, "ended_at": 2.0}
    )
    langs = ["en", "de", "fr", "es", "zh", "ar", "ru", "hi", "sw", "ur", "tr", "vi"]
    store.add_results(
        [
            result("wide", "sentiment", lang, 0.5, intermediate=inter)
            for lang in langs
            for inter in ("baseline", "a-long-intermediate-task-name")
        ]
    )
    out = engine("results", "--workspace", str(tmp_path), columns=80)
    assert out.returncode == 0, out.stderr
    assert "…" not in out.stdout
    assert "a-long-intermediate-task-name" in out.stdout
    header = next(line for line in out.stdout.splitlines() if "intermediate" in line)
    for lang in langs:
        assert f" {lang} " in header


def test_piped_runs_table_is_not_cut(tmp_path):
    store = Store(tmp_path / "xlt.json")
    rid = "20261203-101010-a-rather-long-experiment-name-abcd"
    store.create_run(
        {
            "id": rid,
            "name": "a-rather-long-experiment-name",
            "status": "failed",
            "started_at": 1.0,
            "ended_at": 2.0,
            "device": "cuda:0 (NVIDIA H200)",
        }
    )
    out = engine("runs", "--workspace", str(tmp_path), columns=80)
    assert out.returncode == 0, out.stderr
    assert "…" not in out.stdout
    for text in (rid, "failed", "cuda:0 (NVIDIA H200)"):
        assert text in out.stdout
