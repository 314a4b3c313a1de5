"""The per-language table: rows, columns, mean and std over seeds, deltas."""

from __future__ import annotations

import csv
import io
import json
import statistics

import pytest

from engine.report import (
    NOT_COMPARABLE,
    format_cell,
    pivot,
    render_latex,
    render_markdown,
)
from engine.store import Store
from tests.conftest import run_engine


def rec(intermediate, lang, seed, value):
    return {
        "run_id": "r",
        "seed": seed,
        "model": "m",
        "intermediate": intermediate,
        "target": "xnli",
        "language": lang,
        "split": "test",
        "metric": "accuracy",
        "value": value,
        "n_examples": 10,
    }


RECORDS = [
    rec("mnli", "de", 1, 0.70),
    rec("mnli", "de", 2, 0.74),
    rec("mnli", "en", 1, 0.80),
    rec("mnli", "en", 2, 0.84),
    rec("baseline", "en", 1, 0.78),
    rec("baseline", "en", 2, 0.80),
    rec("baseline", "de", 1, 0.60),
    rec("baseline", "de", 2, 0.62),
]


def test_rows_baseline_first_columns_in_task_order_plus_avg():
    table = pivot(RECORDS, "xnli", language_order=("en", "ar", "de"))
    assert table.rows == ["baseline", "mnli"]
    assert table.columns == ["en", "de", "avg"]


def test_mean_std_and_delta_against_baseline():
    table = pivot(RECORDS, "xnli", ("en", "de"))
    cell = table.cell("mnli", "de")
    assert cell.mean == pytest.approx(0.72)
    assert cell.std == pytest.approx(statistics.stdev([0.70, 0.74]))
    assert cell.delta == pytest.approx(0.72 - 0.61)
    # The average is taken per seed over languages, then over seeds.
    avg = table.cell("mnli", "avg")
    assert avg.values == pytest.approx([0.75, 0.79])
    assert table.cell("baseline", "en").delta is None
    assert format_cell(cell, "accuracy") == "72.0±2.8 (+11.0)"


def test_average_needs_every_language():
    records = [
        r
        for r in RECORDS
        if not (r["intermediate"] == "mnli" and r["language"] == "de")
    ]
    table = pivot(records, "xnli", ("en", "de"))
    assert table.cell("mnli", "avg") is None
    assert format_cell(table.cell("mnli", "de"), "accuracy") == "–"


def test_markdown_and_latex():
    table = pivot(RECORDS, "xnli", ("en", "de"))
    md = render_markdown(table)
    assert "| mnli | 82.0±2.8 (+3.0) | 72.0±2.8 (+11.0) | 77.0±2.8 (+7.0) |" in md
    tex = render_latex(table)
    assert r"mnli & 82.0$\pm$2.8 (+3.0)" in tex and r"\bottomrule" in tex


# -- splits, marks, and the command line ------------------------------------------


def both_splits():
    """Validation numbers are 0.013 above the test ones, so a mix would show."""
    return RECORDS + [
        {**r, "split": "validation", "value": r["value"] + 0.013} for r in RECORDS
    ]


def test_a_table_is_of_one_split_and_says_which():
    with pytest.raises(ValueError, match="validation and test in one table"):
        pivot(both_splits(), "xnli", ("en", "de"))
    val = pivot(both_splits(), "xnli", ("en", "de"), split="validation")
    assert val.split == "validation"
    assert val.cell("mnli", "de").mean == pytest.approx(0.733)
    test = pivot(both_splits(), "xnli", ("en", "de"), split="test")
    assert test.cell("mnli", "de").mean == pytest.approx(0.72)
    assert "zero-shot, validation split;" in render_markdown(val)
    assert "zero-shot, test split;" in render_latex(test)


def test_a_non_comparable_result_is_marked_with_its_reason():
    records = [
        {**r, "comparable": False, "not_comparable": "gold pairs only"}
        if r["intermediate"] == "mnli" and r["language"] == "de"
        else r
        for r in RECORDS
    ]
    table = pivot(records, "xnli", ("en", "de"))
    assert format_cell(table.cell("mnli", "de"), "accuracy", False) == (
        f"72.0±2.8{NOT_COMPARABLE}"
    )
    # The average includes it, so it is marked too; other cells are not.
    assert table.cell("mnli", "avg").not_comparable == ("gold pairs only",)
    assert not table.cell("mnli", "en").not_comparable
    md = render_markdown(table)
    assert md.rstrip().endswith(f"{NOT_COMPARABLE} not comparable: gold pairs only")
    tex = render_latex(table)
    assert r"72.0$\pm$2.8$^\dagger$" in tex
    assert r"$^\dagger$ not comparable: gold pairs only\\" in tex


def store_with(tmp_path, records, provenance=None):
    store = Store(tmp_path / "xlt.json")
    run = {"id": "r", "status": "finished", "started_at": 1.0}
    if provenance is not None:
        run["provenance"] = provenance
    store.create_run(run)
    store.add_results(records)
    return str(tmp_path)


def test_cli_table_defaults_to_validation_and_never_mixes(tmp_path):
    ws = store_with(tmp_path, both_splits())
    out = run_engine("results", "-f", "markdown", "--workspace", ws)
    assert out.returncode == 0, out.stderr
    assert "validation split (default: validation when present" in out.stdout
    assert "73.3±2.8" in out.stdout  # mnli/de on validation
    assert "72.0±2.8" not in out.stdout  # ... and not on test
    test = run_engine("results", "--split", "test", "--workspace", ws)
    assert test.returncode == 0, test.stderr
    assert "xnli · accuracy · zero-shot · test" in test.stdout
    assert "72.0±2.8" in test.stdout and "73.3±2.8" not in test.stdout


def test_cli_refuses_an_unknown_or_absent_split(tmp_path):
    ws = store_with(tmp_path, RECORDS)  # test only
    bad = run_engine("results", "--split", "valid", "--workspace", ws)
    assert bad.returncode == 2
    assert "did you mean 'validation'" in bad.stderr
    absent = run_engine("results", "--split", "validation", "--workspace", ws)
    assert absent.returncode == 2
    assert "has no validation results (it has: test)" in absent.stderr
    assert "Traceback" not in bad.stderr + absent.stderr


def test_cli_json_and_csv_name_each_records_split_and_provenance(tmp_path):
    provenance = {"xlt": "0.1.0", "git_commit": "abc1234", "device": "cpu"}
    ws = store_with(tmp_path, both_splits(), provenance)
    out = run_engine("results", "-f", "json", "--workspace", ws)
    rows = json.loads(out.stdout)
    assert {r["split"] for r in rows} == {"validation", "test"}
    assert all(r["provenance"] == provenance for r in rows)
    only = run_engine("results", "-f", "csv", "--split", "test", "--workspace", ws)
    lines = list(csv.DictReader(io.StringIO(only.stdout)))
    assert len(lines) == len(RECORDS) and {x["split"] for x in lines} == {"test"}
