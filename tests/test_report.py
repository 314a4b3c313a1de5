"""The per-language table: rows, columns, mean and std over seeds, deltas."""

from __future__ import annotations

import statistics

import pytest

from engine.report import format_cell, pivot, render_latex, render_markdown


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
