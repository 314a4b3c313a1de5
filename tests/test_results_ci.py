"""`xlt-engine results --ci`: changes with paired-bootstrap intervals, the
significance mark, reference levels and collapsed models, on a workspace built
from constructed predictions files and store records (no training)."""

from __future__ import annotations

import csv
import io
import json
import re

from typer.testing import CliRunner

from engine.cli import app
from engine.predictions import PredictionTable, write_predictions
from engine.significance import SignificanceSettings, target_significance
from engine.store import Store
from engine.workspace import Workspace

N = 200
BALANCED = ["pos" if i % 2 else "neg" for i in range(N)]
# 70% right: every example whose index is a multiple of 10 below 3 is wrong.
BASE = [
    g if i % 10 >= 3 else ("neg" if g == "pos" else "pos")
    for i, g in enumerate(BALANCED)
]
ERRORS = [i for i in range(N) if BASE[i] != BALANCED[i]]
# Fixes 30% of the baseline's errors, breaks nothing.
FIXED = set(ERRORS[: int(0.3 * len(ERRORS))])
FIXER = [BALANCED[i] if i in FIXED else BASE[i] for i in range(N)]


def add_result(
    root,
    run_id,
    intermediate,
    language,
    predictions,
    gold,
    *,
    target="sent",
    split="test",
    seed=1,
    with_file=True,
):
    """One evaluation as the engine leaves it: predictions file, evaluation
    file and store record (with its stage key)."""
    ws = Workspace.open(root)
    store = Store(ws)
    if store.get_run(run_id) is None:
        store.create_run({"id": run_id, "status": "finished", "ended_at": 1.0})
    stage_key = f"{run_id}-{target}-{intermediate}-{seed}"
    evaluation_key = f"{split}-{language}"
    rows = [
        {"id": f"{language}-{i}", "prediction": p, "gold": g, "accuracy": float(p == g)}
        for i, (p, g) in enumerate(zip(predictions, gold, strict=True))
    ]
    value = sum(r["accuracy"] for r in rows) / len(rows)
    if with_file:
        write_predictions(
            ws.stage_predictions(stage_key, evaluation_key),
            PredictionTable({"accuracy": "mean"}, rows, labels=["neg", "pos"]),
            target,
            language,
            split,
        )
    saved = ws.stage_evaluation(stage_key, evaluation_key)
    saved.parent.mkdir(parents=True, exist_ok=True)
    score = {"language": language, "split": split, "metric": "accuracy"}
    saved.write_text(
        json.dumps({"key": evaluation_key, "score": {**score, "value": value}})
    )
    store.add_results(
        [
            {
                "run_id": run_id,
                "seed": seed,
                "model": "xlt-tiny",
                "intermediate": intermediate,
                "target": target,
                "language": language,
                "split": split,
                "metric": "accuracy",
                "value": value,
                "n_examples": len(rows),
                "stage_key": stage_key,
            }
        ]
    )
    return value


def build(root):
    for lang in ("en", "de"):
        add_result(root, "r1", "baseline", lang, BASE, BALANCED)
        add_result(root, "r1", "same", lang, BASE, BALANCED)
        add_result(root, "r1", "fixer", lang, FIXER, BALANCED)
    return str(root)


def results(root, *args):
    got = CliRunner().invoke(app, ["results", "-w", str(root), *args])
    return got.exit_code, got.output


def row_of(output: str, name: str) -> str:
    """The table's two lines of row `name` (score line and change line)."""
    lines = output.splitlines()
    at = next(i for i, line in enumerate(lines) if f" {name} " in line)
    return lines[at] + "\n" + lines[at + 1]


def test_identical_intermediate_contains_zero_and_fixer_is_marked(tmp_path):
    code, out = results(build(tmp_path), "--ci", "--resamples", "300")
    assert code == 0, out
    same = row_of(out, "same")
    assert "+0.0 [+0.0, +0.0]" in same and "*" not in same
    fixer = row_of(out, "fixer")
    # 18 of 60 errors fixed: +9.0 points, interval above 0, significant.
    assert re.search(r"\+9\.0 \[\+\d\.\d, \+\d+\.\d\]\*", fixer), fixer
    assert "significant at 0.05 after Holm over 6 comparisons" in out
    assert "300 resamples, seed 0" in out
    assert "majority-class/chance level of the gold: en 50.0/50.0" in out


def test_interval_lies_around_the_change(tmp_path):
    ws = Workspace.open(build(tmp_path))
    records = Store(ws).results()
    sig = target_significance(records, ws, "sent", "test", SignificanceSettings())
    fixer = sig.results["fixer", "en"]
    assert abs(fixer.delta - 0.09) < 1e-9
    assert 0 < fixer.low < fixer.delta < fixer.high
    assert fixer.p_adjusted < 0.05 and fixer.correction == "holm"
    assert sig.results["fixer", "avg"].significant
    assert sig.results["same", "en"].low == sig.results["same", "en"].high == 0


def test_collapsed_model_on_skewed_data_is_flagged_with_majority(tmp_path):
    gold = ["neg" if i % 20 >= 3 else "pos" for i in range(N)]  # 85% neg
    add_result(tmp_path, "r1", "baseline", "en", gold, gold, target="skew")
    add_result(tmp_path, "r1", "mnli", "en", ["neg"] * N, gold, target="skew")
    for args in ((), ("--ci", "--resamples", "100")):
        code, out = results(tmp_path, "--target", "skew", *args)
        assert code == 0, out
        assert "85.0!" in row_of(out, "mnli"), out  # the mark is beside the score
        assert "collapsed: mnli on en predicts 'neg' for 100% of examples" in out
        assert "majority-class/chance level of the gold: en 85.0/50.0" in out
        assert "!" not in row_of(out, "baseline")


def test_csv_and_json_carry_the_fields(tmp_path):
    root = build(tmp_path)
    code, out = results(root, "--ci", "--resamples", "200", "-f", "csv")
    assert code == 0, out
    rows = list(csv.DictReader(io.StringIO(out)))
    fixer = next(
        r for r in rows if r["intermediate"] == "fixer" and r["language"] == "en"
    )
    for key in ("delta", "ci_low", "ci_high", "p", "p_adjusted", "significant",
                "correction", "n_resamples", "bootstrap_seed", "majority",
                "chance", "collapsed"):  # fmt: skip
        assert fixer[key] != "", key
    assert fixer["significant"] == "True" and fixer["n_resamples"] == "200"
    assert any(r["language"] == "avg" and r["aggregate"] == "True" for r in rows)
    code, out = results(root, "--ci", "--resamples", "200", "--correction", "bh",
                        "-f", "json")  # fmt: skip
    data = json.loads(out)
    same = next(
        r for r in data if r["intermediate"] == "same" and r["language"] == "de"
    )
    assert same["correction"] == "bh" and same["significant"] is False
    assert same["ci_low"] <= 0 <= same["ci_high"] and same["majority"] == 0.5


def test_markdown_and_latex_carry_the_legend(tmp_path):
    root = build(tmp_path)
    for fmt in ("markdown", "latex"):
        code, out = results(root, "--ci", "--resamples", "200", "-f", fmt)
        assert code == 0, out
        assert "significant at 0.05 after Holm over 6 comparisons" in out
        assert "]*" in out  # the fixer's marked change
    code, out = results(root, "--ci", "--resamples", "200", "-f", "latex")
    assert r"95\% interval" in out


def test_cell_without_predictions_says_so(tmp_path):
    root = build(tmp_path)
    add_result(root, "r1", "old", "en", FIXER, BALANCED, with_file=False)
    add_result(root, "r1", "old", "de", FIXER, BALANCED, with_file=False)
    code, out = results(root, "--ci", "--resamples", "100")
    assert code == 0, out
    assert "+9.0?" in row_of(out, "old")
    assert "no per-example predictions: scored before predictions were kept" in out
    assert "re-score with `xlt-engine run CONFIG`" in out


def test_bad_settings_exit_2(tmp_path):
    root = build(tmp_path)
    code, out = results(root, "--ci", "--correction", "bonferoni")
    assert code == 2 and "--correction: 'bonferoni' is not one of holm" in out
    code, out = results(root, "--resamples", "10")
    assert code == 2 and "add --ci" in out
    # numpy takes no negative seed: refused up front, not a traceback later.
    code, out = results(root, "--ci", "--bootstrap-seed", "-3")
    assert code == 2 and "--bootstrap-seed: -3 is negative" in out
    assert "Traceback" not in out


def test_several_seeds_are_resampled_too(tmp_path):
    """Two seeds per system: the interval is over seeds and examples, and a
    seed that disagrees with the other widens it."""
    for seed, fixer in ((1, FIXER), (2, BASE)):
        add_result(tmp_path, "r1", "baseline", "en", BASE, BALANCED, seed=seed)
        add_result(tmp_path, "r1", "mixed", "en", fixer, BALANCED, seed=seed)
    ws = Workspace.open(tmp_path)
    records = Store(ws).results()
    sig = target_significance(records, ws, "sent", "test")
    mixed = sig.results["mixed", "en"]
    assert mixed.n_seeds == 2 and abs(mixed.delta - 0.045) < 1e-9
    # Resampling seeds draws (FIXER, FIXER) and (BASE, BASE) too: the interval
    # reaches both a change of 0 and the full +9 points.
    assert mixed.low <= 0.0 and mixed.high >= 0.085


PAWSX = ("de", "en", "es", "fr", "ja", "ko", "zh")  # XTREME's languages of PAWS-X


def test_xtreme_table_changes_carry_intervals(tmp_path):
    for lang in PAWSX:
        for row, predictions in (("baseline", BASE), ("same", BASE), ("fixer", FIXER)):
            add_result(tmp_path, "r1", row, lang, predictions, BALANCED, target="pawsx")
    code, out = results(
        tmp_path, "--xtreme", "--ci", "--resamples", "300", "--format", "json"
    )
    assert code == 0, out
    cells = {(c["intermediate"], c["column"]): c for c in json.loads(out)}
    # The task score and the overall score (PAWS-X is the one complete task;
    # no group column: XNLI, PAWS-X's partner in it, has no results).
    assert ("fixer", "classification") not in cells
    for column in ("pawsx", "overall"):
        fixer, same = cells["fixer", column], cells["same", column]
        assert abs(fixer["delta"] - 0.09) < 1e-9 and fixer["ci_low"] > 0
        assert fixer["significant"] and fixer["correction"] == "holm"
        assert same["ci_low"] <= 0 <= same["ci_high"] and not same["significant"]
    # Seven languages averaged: narrower than one language's interval.
    one = target_significance(
        [r for r in Store(Workspace.open(tmp_path)).results() if r["language"] == "de"],
        Workspace.open(tmp_path),
        "pawsx",
        "test",
        SignificanceSettings(n_resamples=300),
    ).results["fixer", "de"]
    task = cells["fixer", "pawsx"]
    assert task["ci_high"] - task["ci_low"] < 0.7 * (one.high - one.low)
    code, table = results(tmp_path, "--xtreme", "--ci", "--resamples", "300")
    assert code == 0 and "after Holm over 4 comparisons" in table.replace("\n", " ")
    assert re.search(r"\+9\.0 \[\+\d\.\d, \+\d+\.\d\]\*", table), table


def _scored(n_right: int) -> list[str]:
    """Predictions for BALANCED with exactly `n_right` of N right."""
    flip = {"pos": "neg", "neg": "pos"}
    return [g if i < n_right else flip[g] for i, g in enumerate(BALANCED)]


def test_gap_view_shows_the_english_gap_and_its_change(tmp_path):
    for row, en, es in (("baseline", 140, 100), ("mnli", 150, 130)):
        add_result(tmp_path, "g1", row, "en", _scored(en), BALANCED, target="hx")
        add_result(tmp_path, "g1", row, "es", _scored(es), BALANCED, target="hx")
    add_result(tmp_path, "g1", "baseline", "ja", _scored(90), BALANCED, target="jh")
    code, out = results(tmp_path, "--gap", "--format", "json")
    assert code == 0, out
    (mnli,) = [r for r in json.loads(out) if r["intermediate"] == "mnli"]
    # gap 75 - 65 = 10 points against the baseline's 70 - 50 = 20: -10.
    assert abs(mnli["gap"] - 0.10) < 1e-9 and abs(mnli["gap_change"] + 0.10) < 1e-9
    code, table = results(tmp_path, "--gap")
    assert code == 0 and "-10.0" in table
    assert "jh: no English score" in table  # named, not silently left out
    code, out = results(tmp_path, "--gap", "--ci")
    assert code == 2 and "--gap: a table of its own" in out
