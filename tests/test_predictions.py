"""Per-example predictions beside every evaluation: written before the score,
one row per example, the stored score rebuilt from the rows, and the
baseline's and an intermediate target's rows paired by example id."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import numpy as np
import pytest

from engine.predictions import (
    FORMAT,
    Predictions,
    PredictionTable,
    corpus_metric,
    pair,
    read_predictions,
    write_predictions,
)
from tests.conftest import REPO, run_engine

HUB = REPO / "tests" / "fixtures" / "hub"
MLM = REPO / "tests" / "fixtures" / "local" / "mlm"


def _evaluations(ws: Path) -> list[tuple[dict, Predictions, Path]]:
    """(saved evaluation, its predictions, the stage folder) of every score."""
    found = []
    for saved in sorted(ws.glob("stages/*/evaluations/*.json")):
        evaluation = json.loads(saved.read_text(encoding="utf-8"))
        predictions = saved.with_name(saved.stem + ".predictions.jsonl.gz")
        assert predictions.is_file(), f"{saved} has no predictions file"
        found.append((evaluation, read_predictions(predictions), saved.parents[1]))
    return found


def _assert_rebuilds(evaluation: dict, predictions: Predictions) -> None:
    score = evaluation["score"]
    header = predictions.header
    assert header["format"] == FORMAT
    assert header["language"] == score["language"]
    assert header["split"] == score["split"]
    assert len(predictions) == score["n_examples"]
    assert len(set(predictions.ids)) == len(predictions), "ids repeat"
    assert header["metrics"], "no metric to rebuild"
    for name in header["metrics"]:
        assert predictions.metric(name) == pytest.approx(
            score["metrics"][name], abs=1e-9
        ), name


def test_sentiment_run_keeps_pairable_predictions_that_rebuild_the_score(
    experiment, workspace
):
    config = experiment(epochs=1)
    result = run_engine("run", str(config), "--workspace", str(workspace))
    assert result.returncode == 0, result.stderr
    found = _evaluations(workspace)
    # baseline and from-sent targets, en and de each
    assert len(found) == 4
    for evaluation, predictions, _ in found:
        _assert_rebuilds(evaluation, predictions)
        assert predictions.header["labels"] == ["negative", "positive"]
        assert set(predictions.predictions) <= {"negative", "positive"}
        assert predictions.ids[0] == f"{predictions.header['language']}-0"
    by_language: dict[str, list[Predictions]] = {}
    for _, predictions, _ in found:
        by_language.setdefault(predictions.header["language"], []).append(predictions)
    for baseline, intermediate in by_language.values():
        rows_a, rows_b = pair(baseline, intermediate)
        assert len(rows_a) == len(baseline) == len(intermediate)
        # Paired rows are the same example: the same gold label.
        assert [baseline.gold[i] for i in rows_a] == [
            intermediate.gold[j] for j in rows_b
        ]


TAGGING_QA_MC_MLM = f"""
name = "kinds"
model = "xlt-tiny"
intermediate = []
targets = ["xquad", "udpos", "panx", "mc", "wiki"]
seeds = [1]

[languages]
xquad = ["en", "de"]
udpos = ["en", "de"]
panx = ["en", "de"]
mc = ["en", "de"]

[train]
max_steps = 2
batch_size = 4
max_seq_length = 96
doc_stride = 32
log_every = 1

[data.xquad]
path = "{HUB}/google/xtreme"
[data.udpos]
path = "{HUB}/google/xtreme"
[data.panx]
path = "{HUB}/google/xtreme"

[tasks.mc]
kind = "multiple_choice"
[tasks.mc.files]
train = "mc/train.jsonl"
validation = "mc/dev.jsonl"
[tasks.mc.files.test]
en = "mc/test.en.jsonl"
de = "mc/test.de.jsonl"

[tasks.wiki]
kind = "mlm"
[tasks.wiki.files]
train = {{ de = "{MLM}/wiki.de.txt" }}
validation = "{MLM}/wiki.validation.txt"
test = {{ de = "{MLM}/wiki.de.txt", fr = "{MLM}/wiki.fr.txt" }}
"""


def _write_choice_files(folder: Path) -> None:
    """A few multiple-choice questions with their own ids, per split."""
    folder.mkdir()
    for name, n in (("train", 12), ("dev", 6), ("test.en", 7), ("test.de", 5)):
        rows = [
            {
                "id": f"{name}-q{i}",
                "context": f"item {i} is on the table",
                "question": "where is it?",
                "choices": ["on the table", "in the sea", "nowhere", "up high"],
                "label": i % 4,
            }
            for i in range(n)
        ]
        (folder / f"{name}.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8"
        )


@pytest.mark.slow
def test_tagging_qa_choice_and_mlm_predictions_rebuild_their_scores(
    tmp_path, workspace
):
    _write_choice_files(tmp_path / "mc")
    config = tmp_path / "kinds.toml"
    config.write_text(TAGGING_QA_MC_MLM, encoding="utf-8")
    result = run_engine("run", str(config), "--workspace", str(workspace), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    found = _evaluations(workspace)
    tasks = {p.header["task"] for _, p, _ in found}
    assert tasks == {"xquad", "udpos", "panx", "mc", "wiki"}
    for evaluation, predictions, _ in found:
        _assert_rebuilds(evaluation, predictions)
        task = predictions.header["task"]
        if task in ("udpos", "panx"):
            # seqeval chunk counts per sentence and words for token accuracy
            assert predictions.header["metrics"] == {
                "f1": "f1_counts",
                "accuracy": "token_accuracy",
            }
            assert predictions.columns["tokens"].sum() == sum(
                len(g) for g in predictions.gold
            )
        if task == "xquad":
            # the dataset's own question ids, the answer text predicted
            assert not predictions.ids[0].startswith(predictions.header["language"])
            assert all(isinstance(p, str) for p in predictions.predictions)
        if task == "wiki":
            assert predictions.header["metrics"] == {
                "masked_accuracy": "token_accuracy"
            }
        if task == "mc":
            assert predictions.ids[0].startswith("test.")  # the questions' ids


def test_reducers_rebuild_corpus_metrics_and_resample_rows():
    columns = {
        "tp": np.array([1.0, 0.0, 2.0]),
        "fp": np.array([1.0, 1.0, 0.0]),
        "fn": np.array([0.0, 2.0, 1.0]),
        "correct": np.array([3.0, 1.0, 4.0]),
        "tokens": np.array([4.0, 2.0, 4.0]),
        "accuracy": np.array([1.0, 0.0, 1.0]),
    }
    # micro F1 over the summed counts, not a mean of sentence F1s
    assert corpus_metric("f1_counts", "f1", columns) == pytest.approx(6 / 11)
    assert corpus_metric("token_accuracy", "accuracy", columns) == pytest.approx(0.8)
    assert corpus_metric("mean", "accuracy", columns) == pytest.approx(2 / 3)
    # a bootstrap resample: the second sentence twice
    rows = np.array([1, 1])
    assert corpus_metric("f1_counts", "f1", columns, rows) == 0.0
    assert corpus_metric("token_accuracy", "accuracy", columns, rows) == pytest.approx(
        0.5
    )
    with pytest.raises(ValueError, match="unknown reducer"):
        corpus_metric("median", "accuracy", columns)


def _table(ids: list[str]) -> PredictionTable:
    rows = [{"id": i, "prediction": 1, "gold": 1, "accuracy": 1} for i in ids]
    return PredictionTable({"accuracy": "mean"}, rows)


def test_pair_matches_ids_in_any_order_and_refuses_other_examples(tmp_path):
    a_path, b_path, c_path = (tmp_path / f"{n}.jsonl.gz" for n in "abc")
    write_predictions(a_path, _table(["x", "y", "z"]), "t", "de", "test")
    write_predictions(b_path, _table(["z", "x", "y"]), "t", "de", "test")
    write_predictions(c_path, _table(["x", "y", "w"]), "t", "de", "test")
    a, b, c = (read_predictions(p) for p in (a_path, b_path, c_path))
    rows_a, rows_b = pair(a, b)
    assert list(a.ids[rows_a]) == list(b.ids[rows_b]) == ["x", "y", "z"]
    with pytest.raises(ValueError, match="different examples"):
        pair(a, c)


def test_a_write_killed_midway_leaves_no_predictions_file(tmp_path, monkeypatch):
    target = tmp_path / "evaluations" / "k.predictions.jsonl.gz"

    def killed(fd):
        raise KeyboardInterrupt  # the process dies before the file is whole

    monkeypatch.setattr(os, "fsync", killed)
    with pytest.raises(KeyboardInterrupt):
        write_predictions(target, _table(["a", "b"]), "t", "en", "test")
    assert list(target.parent.iterdir()) == []  # neither the file nor its temp
    monkeypatch.undo()
    write_predictions(target, _table(["a", "b"]), "t", "en", "test")
    with gzip.open(target, "rt", encoding="utf-8") as fh:
        assert len(fh.read().splitlines()) == 3  # header + 2 examples


RETRIEVAL = f"""
name = "retrieval"
model = "xlt-tiny"
intermediate = ["squad"]
targets = ["tatoeba", "bucc2018"]
seeds = [1]

[languages]
tatoeba = ["de", "zh"]
bucc2018 = ["de"]

[train]
max_steps = 2
batch_size = 4
max_seq_length = 96
doc_stride = 32
log_every = 1

[data.squad]
path = "{HUB}/rajpurkar/squad"
[data.tatoeba]
path = "{HUB}/google/xtreme"
[data.bucc2018]
path = "{HUB}/google/xtreme"
"""


@pytest.mark.slow
def test_retrieval_predictions_rebuild_scores_and_pair_across_stages(
    tmp_path, workspace
):
    config = tmp_path / "retrieval.toml"
    config.write_text(RETRIEVAL, encoding="utf-8")
    result = run_engine("run", str(config), "--workspace", str(workspace))
    assert result.returncode == 0, result.stderr
    found = _evaluations(workspace)
    by_key: dict[tuple, list[Predictions]] = {}
    for evaluation, predictions, _ in found:
        _assert_rebuilds(evaluation, predictions)
        header = predictions.header
        if header["task"] == "bucc2018":
            assert header["metrics"] == {"f1": "f1_counts"}
            assert header["threshold"] == evaluation["score"]["threshold"]
        else:
            # each row is right when it retrieved its own translation
            assert list(predictions.columns["accuracy"]) == [
                float(p == g)
                for p, g in zip(predictions.predictions, predictions.gold, strict=True)
            ]
        by_key.setdefault(
            (header["task"], header["language"], header["split"]), []
        ).append(predictions)
    assert {k[0] for k in by_key} == {"tatoeba", "bucc2018"}
    for baseline, intermediate in (v for v in by_key.values() if len(v) == 2):
        rows_a, rows_b = pair(baseline, intermediate)
        assert len(rows_a) == len(baseline)
    assert any(len(v) == 2 for v in by_key.values()), "no stage pair to compare"


def _code_task(metric: str):
    from engine.tasks.spec import LocalSource, TaskSpec

    return TaskSpec(
        name="code",
        kind="code_generation",
        labels=(),
        languages=("en",),
        source=LocalSource(files={}),
        metric=metric,
    )


def _code_problem(name: str, op: str) -> dict:
    prompt = f"def {name}(a, b):\n"
    return {
        "task_id": f"toy/{name}",
        "problem_id": f"toy/{name}",
        "language": "en",
        "prompt": prompt,
        "solution": f"    return a {op} b\n",
        "program_prefix": prompt,
        "test_program": f"assert {name}(7, 3) == 7 {op} 3\n",
        "entry_point": name,
        "reference_code": f"return a {op} b",
    }


def test_code_predictions_rebuild_pass_at_k_and_bleu():
    from engine.kinds.code_generation import score_generations

    records = [_code_problem("add", "+"), _code_problem("sub", "-")]
    attempts = {
        "toy/add": ["    return a + b\n", "    return a - b\n", "    return a + b\n"],
        "toy/sub": ["    return b - a\n", "    return a - b\n", "    return 0\n"],
    }
    completions = [
        {"task_id": task_id, "completion_index": i, "completion": text}
        for task_id, texts in attempts.items()
        for i, text in enumerate(texts)
    ]
    scored = score_generations(records, completions, _code_task("pass@k"))
    table = scored.table
    assert table is not None
    rows = {row["id"]: row for row in table.rows}
    assert (rows["toy/add"]["n"], rows["toy/add"]["c"]) == (3, 2)
    assert (rows["toy/sub"]["n"], rows["toy/sub"]["c"]) == (3, 1)
    assert rows["toy/add"]["prediction"] == "    return a + b\n"  # the first one
    columns = {
        k: np.array([row[k] for row in table.rows], dtype=float) for k in table.metrics
    }
    for name, reducer in table.metrics.items():
        assert corpus_metric(reducer, name, columns) == pytest.approx(
            scored.metrics[name]
        )

    firsts = [c for c in completions if c["completion_index"] == 0]
    bleu = score_generations(records, firsts, _code_task("bleu"))
    assert bleu.table is not None and bleu.table.metrics == {"bleu": "bleu_unsmoothed"}
    columns = {
        k: np.array([row[k] for row in bleu.table.rows], dtype=float)
        for k in bleu.table.rows[0]
        if k not in ("id", "prediction", "gold")
    }
    assert bleu.metrics["bleu"] > 0
    assert corpus_metric("bleu_unsmoothed", "bleu", columns) == pytest.approx(
        bleu.metrics["bleu"]
    )
