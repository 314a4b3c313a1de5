"""`xlt-engine results --xtreme`: the paper's table, checked by hand."""

from __future__ import annotations

import json

import pytest

from engine.metrics import xtreme
from engine.report import NOT_COMPARABLE, format_cell, render_markdown
from engine.store import Store
from engine.xtreme_report import (
    BEST,
    METRIC,
    best_per_target,
    caption,
    xtreme_pivot,
)
from tests.conftest import run_engine


def rec(inter, seed, target, lang, metrics, run="r1"):
    metric, value = next(iter(metrics.items()))
    return {
        "run_id": run,
        "seed": seed,
        "model": "m",
        "intermediate": inter,
        "target": target,
        "language": lang,
        "split": "test",
        "metric": metric,
        "value": value,
        "metrics": metrics,
        "n_examples": 10,
    }


def records():
    out = []
    for inter, shift in (("baseline", 0.0), ("mnli", 0.1)):
        for seed, noise in ((1, 0.0), (2, 0.02)):
            for lang, acc in (("en", 0.8), ("de", 0.6)):
                out.append(
                    rec(inter, seed, "xnli", lang, {"accuracy": acc + shift + noise})
                )
            for lang, (em, f1) in (("en", (0.5, 0.7)), ("ar", (0.3, 0.5))):
                out.append(
                    rec(
                        inter,
                        seed,
                        "xquad",
                        lang,
                        {"f1": f1 + shift, "exact_match": em + shift},
                    )
                )
            out.append(rec(inter, seed, "demo-xqa", "en", {"accuracy": 0.9}))
    return out


def test_partial_tasks_show_their_language_count_and_no_overall():
    table = xtreme_pivot(records())
    assert table.rows == ["baseline", "mnli"]
    assert table.columns == ["xnli", "xquad", "overall"]  # no complete group
    # baseline xnli: seed 1 mean(0.8, 0.6) = 0.7, seed 2 0.72 -> 0.71
    xnli = table.cell("baseline", "xnli")
    assert xnli.mean == pytest.approx(0.71)
    assert xnli.coverage == (2, 15)  # en, de of XTREME's 15
    assert format_cell(xnli, METRIC, with_delta=False) == "71.0±1.4 (2/15)"
    # baseline xquad: en (0.5+0.7)/2 = 0.6, ar (0.3+0.5)/2 = 0.4 -> 0.5
    assert table.cell("baseline", "xquad").mean == pytest.approx(0.5)
    assert table.cell("baseline", "xquad").coverage == (2, 11)
    # Two partial tasks are no XTREME score: no overall at all.
    assert table.cell("baseline", "overall") is None
    assert table.cell("mnli", "overall") is None
    assert table.cell("mnli", "xquad").delta == pytest.approx(0.1)
    assert len(table.cell("mnli", "xnli").values) == 2  # one per seed
    assert "(k/n) is partial" in caption(table)
    assert "the XTREME score (mean" not in caption(table)


def pawsx_complete(inter, seed, acc, split="test"):
    return [
        {**rec(inter, seed, "pawsx", lang, {"accuracy": acc}), "split": split}
        for lang in xtreme.TASK_LANGUAGES["pawsx"]
    ]


def test_aggregates_cover_complete_tasks_only_and_say_how_many():
    recs = records() + [
        r
        for inter, acc in (("baseline", 0.9), ("mnli", 0.8))
        for seed in (1, 2)
        for r in pawsx_complete(inter, seed, acc)
    ]
    table = xtreme_pivot(recs)
    assert table.columns == ["xnli", "pawsx", "xquad", "classification", "overall"]
    assert table.cell("baseline", "pawsx").coverage is None  # all 7 languages
    # The partial xnli (2/15) is left out: classification is pawsx alone.
    group = table.cell("baseline", "classification")
    assert group.mean == pytest.approx(0.9) and group.coverage == (1, 2)
    overall = table.cell("mnli", "overall")
    assert overall.mean == pytest.approx(0.8) and overall.coverage == (1, 9)
    assert overall.delta == pytest.approx(-0.1)
    assert format_cell(overall, METRIC) == "80.0±0.0 (1/9) (-10.0)"
    md = render_markdown(table, note=caption(table))
    row = "| baseline | 71.0±1.4 (2/15) | 90.0±0.0 | 50.0±0.0 (2/11) | "
    assert row + "90.0±0.0 (1/2) | 90.0±0.0 (1/9) |" in md


def test_a_non_comparable_task_is_marked_and_kept_out_of_the_aggregate():
    bucc = [
        {
            **rec(inter, seed, "bucc2018", lang, {"f1": 0.5}),
            "comparable": False,
            "not_comparable": "scored from gold pairs only",
        }
        for inter in ("baseline", "mnli")
        for seed in (1, 2)
        for lang in xtreme.TASK_LANGUAGES["bucc2018"]
    ]
    paws = [
        r
        for inter in ("baseline", "mnli")
        for seed in (1, 2)
        for r in pawsx_complete(inter, seed, 0.9)
    ]
    table = xtreme_pivot(bucc + paws)
    cell = table.cell("baseline", "bucc2018")
    assert cell.coverage is None  # all four languages, yet:
    assert cell.not_comparable == ("scored from gold pairs only",)
    assert format_cell(cell, METRIC, with_delta=False) == f"50.0±0.0{NOT_COMPARABLE}"
    # Overall: pawsx only (bucc2018 is complete but not comparable).
    overall = table.cell("baseline", "overall")
    assert overall.mean == pytest.approx(0.9) and overall.coverage == (1, 9)
    md = render_markdown(table, note=caption(table))
    assert f"{NOT_COMPARABLE} not comparable: scored from gold pairs only" in md
    assert f"| baseline | 90.0±0.0 | 50.0±0.0{NOT_COMPARABLE} | 90.0±0.0 (1/9) |" in md


def test_one_table_never_mixes_splits():
    recs = records() + [{**r, "split": "validation"} for r in records()]
    with pytest.raises(ValueError, match="validation and test in one table"):
        xtreme_pivot(recs)
    assert xtreme_pivot(recs, "test").split == "test"


def both_splits():
    """mnli is best on validation for pawsx, qqp is best there on test; for
    xnli (partial, en and de) it is the other way round."""
    scores = {
        # (intermediate, task): (validation, test)
        ("baseline", "pawsx"): (0.60, 0.60),
        ("mnli", "pawsx"): (0.80, 0.62),
        ("qqp", "pawsx"): (0.70, 0.90),
        ("baseline", "xnli"): (0.50, 0.50),
        ("mnli", "xnli"): (0.55, 0.75),
        ("qqp", "xnli"): (0.65, 0.52),
    }
    out = []
    for (inter, task), (val, test) in scores.items():
        for split, acc in (("validation", val), ("test", test)):
            langs = xtreme.TASK_LANGUAGES[task] if task == "pawsx" else ("en", "de")
            for lang in langs:
                r = rec(inter, 1, task, lang, {"accuracy": acc})
                out.append({**r, "split": split})
    return out


def test_best_per_target_is_chosen_on_validation_and_reported_on_test():
    table, selection = best_per_target(both_splits())
    assert table.split == "test"
    assert table.rows == ["baseline", "mnli", "qqp", BEST]
    assert selection.chosen == {"xnli": "qqp", "pawsx": "mnli"}
    paws = table.cell(BEST, "pawsx")
    # mnli's TEST score (62.0), though qqp's test score (90.0) is higher.
    assert paws.mean == pytest.approx(0.62) and paws.label == "mnli"
    assert paws.delta == pytest.approx(0.02)
    assert table.cell(BEST, "xnli").mean == pytest.approx(0.52)
    assert format_cell(paws, METRIC) == "62.0 [mnli] (+2.0)"
    # The best row's aggregates: pawsx is its one complete task.
    assert table.cell(BEST, "overall").mean == pytest.approx(0.62)


def test_cli_prints_the_xtreme_table(tmp_path):
    store = Store(tmp_path / "xlt.json")
    store.create_run({"id": "r1", "status": "finished", "started_at": 1.0})
    store.add_results(records())
    out = run_engine(
        "results", "--xtreme", "--format", "json", "--workspace", str(tmp_path)
    )
    assert out.returncode == 0, out.stderr
    cells = {(c["intermediate"], c["column"]): c for c in json.loads(out.stdout)}
    assert cells[("mnli", "xquad")]["mean"] == pytest.approx(0.6)
    assert cells[("mnli", "xquad")]["split"] == "test"
    assert (cells[("mnli", "xquad")]["covered"], cells[("mnli", "xquad")]["of"]) == (
        2,
        11,
    )
    table = run_engine("results", "--xtreme", "--workspace", str(tmp_path))
    assert table.returncode == 0, table.stderr
    assert "xquad" in table.stdout and "(2/11)" in table.stdout
    assert "test split" in table.stdout
    assert "needs all nine" in table.stdout


def workspace_with(tmp_path, recs):
    store = Store(tmp_path / "xlt.json")
    store.create_run({"id": "r1", "status": "finished", "started_at": 1.0})
    store.add_results(recs)
    return str(tmp_path)


def test_cli_select_on_validation_reports_the_validation_best_on_test(tmp_path):
    ws = workspace_with(tmp_path, both_splits())
    out = run_engine(
        "results", "--xtreme", "--select-on", "validation", "-f", "json",
        "--workspace", ws,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    cells = {(c["intermediate"], c["column"]): c for c in json.loads(out.stdout)}
    best = cells[(BEST, "pawsx")]
    assert best["chosen"] == "mnli" and best["split"] == "test"
    assert best["mean"] == pytest.approx(0.62)
    assert best["selected_on"]["split"] == "validation"
    assert best["selected_on"]["scores"] == pytest.approx({"mnli": 0.8, "qqp": 0.7})
    md = run_engine(
        "results", "--xtreme", "--select-on", "validation", "-f", "markdown",
        "--workspace", ws,
    )  # fmt: skip
    assert md.returncode == 0, md.stderr
    assert "test split" in md.stdout and "best validation score" in md.stdout
    assert "| best per target | 52.0 (2/15) [qqp] (+2.0) | 62.0 [mnli]" in md.stdout


def test_cli_select_on_test_is_refused(tmp_path):
    ws = workspace_with(tmp_path, both_splits())
    out = run_engine("results", "--xtreme", "--select-on", "test", "--workspace", ws)
    assert out.returncode == 2
    assert "--select-on test: refused" in out.stderr
    assert "overstates" in out.stderr and "--select-on validation" in out.stderr
    assert "Traceback" not in out.stderr


def test_cli_select_on_validation_needs_validation_results(tmp_path):
    ws = workspace_with(tmp_path, records())  # test only
    out = run_engine(
        "results", "--xtreme", "--select-on", "validation", "--workspace", ws
    )
    assert out.returncode == 2
    assert "has no validation results" in out.stderr
    assert "eval_splits" in out.stderr and "Traceback" not in out.stderr


def test_cli_xtreme_of_both_splits_shows_validation_by_default(tmp_path):
    ws = workspace_with(tmp_path, both_splits())
    out = run_engine("results", "--xtreme", "-f", "json", "--workspace", ws)
    assert out.returncode == 0, out.stderr
    cells = json.loads(out.stdout)
    assert {c["split"] for c in cells} == {"validation"}
    pawsx = {c["intermediate"]: c["mean"] for c in cells if c["column"] == "pawsx"}
    assert pawsx == pytest.approx({"baseline": 0.6, "mnli": 0.8, "qqp": 0.7})
    test = run_engine(
        "results", "--xtreme", "--split", "test", "-f", "json", "--workspace", ws
    )
    cells = json.loads(test.stdout)
    assert {c["split"] for c in cells} == {"test"}
