"""End to end on the tiny model: plan, train, select, evaluate, record, reuse."""

from __future__ import annotations

import json

import pytest

from engine.config import load_config
from engine.pipeline import IntermediateStage, TargetStage, make_plan
from engine.store import Store
from engine.workspace import Workspace
from tests.conftest import run_engine

pytestmark = pytest.mark.slow

RESULT_KEYS = {
    "run_id",
    "seed",
    "model",
    "intermediate",
    "target",
    "language",
    "metric",
    "value",
}


def test_plan_trains_each_intermediate_once_and_shares_it(experiment, workspace):
    cfg = load_config(experiment(targets=("sent",), seeds=(1, 2)))
    plan = make_plan(cfg, Workspace.open(workspace))
    inter = [s for s in plan.stages if isinstance(s, IntermediateStage)]
    target = [s for s in plan.stages if isinstance(s, TargetStage)]
    # 2 seeds x (baseline + 1 intermediate) target stages, 1 intermediate per seed.
    assert len(inter) == 2 and len(target) == 4
    assert plan.trainings == 6
    assert {s.intermediate_key for s in target if s.intermediate != "baseline"} == {
        s.key for s in inter
    }
    assert len({s.key for s in plan.stages}) == len(plan.stages)


def test_run_records_every_result_then_second_run_trains_nothing(experiment, workspace):
    cfg = experiment()
    first = run_engine("run", str(cfg), "--workspace", str(workspace), "--run-id", "r1")
    assert first.returncode == 0, first.stderr
    results = run_engine(
        "results", "--run", "r1", "--format", "json", "--workspace", str(workspace)
    )
    records = json.loads(results.stdout)
    assert {(r["intermediate"], r["language"]) for r in records} == {
        ("baseline", "en"),
        ("baseline", "de"),
        ("sent", "en"),
        ("sent", "de"),
    }
    for r in records:
        assert RESULT_KEYS <= set(r)
        assert 0.0 <= r["value"] <= 1.0 and r["n_examples"] == 60
    # The tiny model learns this task from scratch: well above chance in English.
    en = [r["value"] for r in records if r["language"] == "en"]
    assert max(en) > 0.75

    run = Store(workspace / "xlt.json").get_run("r1")
    assert run["status"] == "finished"
    assert run["versions"]["torch"] and run["versions"]["transformers"]
    assert run["host"] and run["device"] == "cpu"
    assert run["config"]["train"]["target"]["learning_rate"] == 1e-3
    run_dir = workspace / "runs" / "r1"
    assert (run_dir / "config.toml").is_file() and (run_dir / "engine.log").is_file()
    events = [json.loads(line) for line in (run_dir / "events.jsonl").open()]
    assert events[0]["type"] == "header" and events[0]["schema"] == "xlt.events"
    types = {e["type"] for e in events}
    assert {
        "stage_start",
        "step",
        "eval",
        "stage_end",
        "checkpoint",
        "run_end",
    } <= types
    assert events[-1] == {**events[-1], "type": "run_end", "status": "finished"}
    # The intermediate checkpoint is a safetensors encoder without task heads;
    # the two trained target models are kept with theirs.
    checkpoints = list((workspace / "checkpoints").iterdir())
    assert len(checkpoints) == 3
    assert all((c / "model.safetensors").is_file() for c in checkpoints)
    with_heads = [c for c in checkpoints if (c / "heads.safetensors").is_file()]
    assert len(with_heads) == 2

    dry = run_engine("run", str(cfg), "--workspace", str(workspace), "--dry-run")
    assert dry.returncode == 0
    assert "0 trainings to run" in dry.stdout

    second = run_engine(
        "run", str(cfg), "--workspace", str(workspace), "--run-id", "r2"
    )
    assert second.returncode == 0, second.stderr
    events2 = [json.loads(line) for line in (workspace / "runs/r2/events.jsonl").open()]
    assert not [e for e in events2 if e["type"] == "step"], "second run trained again"
    again = json.loads(
        run_engine(
            "results", "--run", "r2", "--format", "json", "--workspace", str(workspace)
        ).stdout
    )
    key = lambda r: (r["intermediate"], r["language"])  # noqa: E731
    assert sorted((key(r), r["value"]) for r in again) == sorted(
        (key(r), r["value"]) for r in records
    )


def test_changed_hyperparameter_retrains_only_what_it_affects(experiment, workspace):
    cfg = experiment()
    assert run_engine("run", str(cfg), "--workspace", str(workspace)).returncode == 0
    text = cfg.read_text().replace(
        "[train]", "[train.target]\nwarmup_ratio = 0.2\n[train]"
    )
    cfg.write_text(text)
    dry = run_engine("run", str(cfg), "--workspace", str(workspace), "--dry-run")
    # The intermediate checkpoint is reused; both target stages train again.
    assert "2 trainings to run (0 intermediate, 2 target)" in dry.stdout
    assert "1 checkpoints" in dry.stdout


def test_results_table_shows_rows_columns_and_deltas(experiment, workspace):
    cfg = experiment(seeds=(1, 2))
    assert run_engine("run", str(cfg), "--workspace", str(workspace)).returncode == 0
    table = run_engine("results", "--target", "sent", "--workspace", str(workspace))
    assert table.returncode == 0
    lines = table.stdout.splitlines()
    header = next(line for line in lines if "intermediate" in line)
    assert "en" in header and "de" in header and "avg" in header
    baseline = next(line for line in lines if "baseline" in line)
    at = next(i for i, line in enumerate(lines) if "│ sent" in line)
    assert "±" in baseline and "±" in lines[at]  # two seeds: mean ± std
    # The change against the baseline, on the line under the score.
    deltas = [c.strip() for c in lines[at + 1].split("│")[2:-1]]
    assert len(deltas) == 3 and all(d[0] in "+-" for d in deltas), lines[at + 1]
    md = run_engine("results", "--format", "markdown", "--workspace", str(workspace))
    assert "| baseline |" in md.stdout
    tex = run_engine("results", "--format", "latex", "--workspace", str(workspace))
    assert r"\begin{tabular}" in tex.stdout and "$\\pm$" in tex.stdout
    csv_out = run_engine("results", "--format", "csv", "--workspace", str(workspace))
    assert csv_out.stdout.splitlines()[0].startswith("run_id,seed,model,intermediate")
    assert len(csv_out.stdout.splitlines()) == 1 + 2 * 2 * 2  # seeds x rows x langs


def test_sentence_pair_task_from_csv_and_tsv(tmp_path, workspace):
    """A pair task declared in the config alone, its files in CSV and TSV."""
    data = tmp_path / "pairs"
    data.mkdir()
    rows = [
        ("A man plays guitar.", "Someone makes music.", "entailment"),
        ("A man plays guitar.", "Nobody is playing.", "contradiction"),
        ("A cat sleeps.", "An animal rests.", "entailment"),
        ("A cat sleeps.", "The cat runs fast.", "contradiction"),
    ] * 10
    with open(data / "train.csv", "w") as fh:
        fh.write("premise,hypothesis,label\n")
        fh.writelines(f'"{a}","{b}",{y}\n' for a, b, y in rows)
    for lang in ("en", "fr"):
        with open(data / f"test.{lang}.tsv", "w") as fh:
            fh.write("premise\thypothesis\tlabel\n")
            fh.writelines(
                f"{a}\t{b}\t{1 if y == 'contradiction' else 0}\n"
                for a, b, y in rows[:8]
            )
    cfg = tmp_path / "pairs.toml"
    cfg.write_text(f"""
name = "pairs"
model = "xlt-tiny"
targets = ["mini-nli"]
[train]
epochs = 1
batch_size = 8
max_seq_length = 64
[tasks.mini-nli]
kind = "pair_classification"
labels = ["entailment", "contradiction"]
text_fields = ["premise", "hypothesis"]
[tasks.mini-nli.files]
train = "{data / "train.csv"}"
validation = "{data / "train.csv"}"
[tasks.mini-nli.files.test]
en = "{data / "test.en.tsv"}"
fr = "{data / "test.fr.tsv"}"
""")
    result = run_engine("run", str(cfg), "--workspace", str(workspace), "--run-id", "p")
    assert result.returncode == 0, result.stderr
    records = json.loads(
        run_engine("results", "--format", "json", "--workspace", str(workspace)).stdout
    )
    assert sorted(r["language"] for r in records) == ["en", "fr"]
    assert all(
        r["n_examples"] == 8 and r["intermediate"] == "baseline" for r in records
    )
