"""Paired comparisons of code targets (engine.significance.code_cells):
McNemar's exact test on greedy pass, problem by problem, and bootstrap
intervals on pass@k over problems."""

import numpy as np
import pytest

from engine.predictions import Predictions
from engine.significance import SignificanceSettings, code_cells, code_legend
from engine.stats.mcnemar import mcnemar_exact

METRICS = {"pass@1": "mean", "pass@10": "mean", "pass@1-greedy": "mean"}


def table(ids, greedy, pass1) -> Predictions:
    pass1 = np.asarray(pass1, dtype=float)
    return Predictions(
        {"metrics": METRICS},
        np.array(ids, dtype=object),
        {
            "pass@1": pass1,
            "pass@10": np.minimum(1.0, pass1 * 3),
            "pass@1-greedy": np.asarray(greedy, dtype=float),
        },
        [None] * len(ids),
        [None] * len(ids),
    )


def test_mcnemar_counts_discordant_problems_paired_by_id():
    ids = [f"P/{i}" for i in range(40)]
    base_greedy = [1] * 10 + [0] * 30
    # The system solves 12 more problems and loses 2 of the baseline's.
    ours_greedy = [0] * 2 + [1] * 8 + [1] * 12 + [0] * 18
    base = table(ids, base_greedy, [0.2] * 40)
    ours = table(ids, ours_greedy, [0.4] * 40)
    # Rows of the baseline in another order: pairing goes by id.
    order = np.arange(40)[::-1]
    base_shuffled = Predictions(
        base.header,
        base.ids[order],
        {k: v[order] for k, v in base.columns.items()},
        base.predictions,
        base.gold,
    )
    settings = SignificanceSettings(n_resamples=200)
    cells = code_cells(
        {"baseline": [base_shuffled], "conala": [ours]}, settings, ("t", "es")
    )
    cell = cells["conala"]
    assert (cell.only_system, cell.only_baseline) == (12, 2)
    assert cell.mcnemar_p == pytest.approx(mcnemar_exact(12, 2))
    assert cell.mcnemar_p < 0.05
    assert cells["baseline"].mcnemar_p is None
    assert cell.fields()["greedy_only_this"] == 12


def test_pass_at_k_interval_holds_the_value_and_narrows_with_more_problems():
    rng = np.random.default_rng(0)
    settings = SignificanceSettings(n_resamples=500)

    def width(n):
        values = rng.random(n)
        cell = code_cells(
            {"baseline": [table(list(range(n)), [0] * n, values)]},
            settings,
            ("t", "en"),
        )
        value, low, high = cell["baseline"].intervals["pass@1"]
        assert low <= value <= high
        assert value == pytest.approx(values.mean())
        return high - low

    assert width(400) < width(25)


def test_legend_names_the_test_and_the_interval():
    ids = ["a", "b", "c"]
    cells = code_cells(
        {
            "baseline": [table(ids, [1, 0, 0], [0.5, 0, 0])],
            "x": [table(ids, [1, 1, 0], [1, 0.5, 0])],
        },
        SignificanceSettings(n_resamples=50),
        ("t", "ja"),
    )
    lines = code_legend(
        {(row, "ja"): c for row, c in cells.items()},
        SignificanceSettings(n_resamples=50),
    )
    text = "\n".join(lines)
    assert "percentile bootstrap over problems" in text
    assert "x ja: solved only by it 1, only by the baseline 0, p = 1" in text


def test_non_code_predictions_get_no_code_cell():
    plain = Predictions(
        {"metrics": {"accuracy": "mean"}},
        np.array(["a"], dtype=object),
        {"accuracy": np.array([1.0])},
        [1],
        [1],
    )
    assert code_cells({"baseline": [plain]}, SignificanceSettings(), ("t", "en")) == {}
