"""`xlt-engine results --xtreme`: the paper's table, checked by hand."""

from __future__ import annotations

import json

import pytest

from engine.store import Store
from engine.xtreme_report import xtreme_pivot
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


def test_task_scores_groups_and_overall_by_hand():
    table = xtreme_pivot(records())
    assert table.rows == ["baseline", "mnli"]
    assert table.columns == ["xnli", "xquad", "overall"]  # no complete group
    # baseline xnli: seed 1 mean(0.8, 0.6) = 0.7, seed 2 0.72 -> 0.71
    assert table.cell("baseline", "xnli").mean == pytest.approx(0.71)
    # baseline xquad: en (0.5+0.7)/2 = 0.6, ar (0.3+0.5)/2 = 0.4 -> 0.5
    assert table.cell("baseline", "xquad").mean == pytest.approx(0.5)
    # overall of a partial grid: mean of the tasks present
    assert table.cell("baseline", "overall").mean == pytest.approx((0.71 + 0.5) / 2)
    assert table.cell("mnli", "xquad").delta == pytest.approx(0.1)
    assert table.cell("mnli", "xnli").delta == pytest.approx(0.1)
    assert len(table.cell("mnli", "xnli").values) == 2  # one per seed


def test_complete_group_gets_its_column():
    recs = records() + [
        rec(inter, seed, "pawsx", "en", {"accuracy": 0.9})
        for inter in ("baseline", "mnli")
        for seed in (1, 2)
    ]
    table = xtreme_pivot(recs)
    assert table.columns == ["xnli", "pawsx", "xquad", "classification", "overall"]
    assert table.cell("baseline", "classification").mean == pytest.approx(
        (0.71 + 0.9) / 2
    )


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
    table = run_engine("results", "--xtreme", "--workspace", str(tmp_path))
    assert table.returncode == 0, table.stderr
    assert "xquad" in table.stdout and "overall" in table.stdout
    assert "needs all nine" in table.stdout
