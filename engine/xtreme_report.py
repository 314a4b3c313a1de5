"""The paper-style table: one row per intermediate choice, one column per
XTREME target task, the four group scores and the overall score, each with its
change against the baseline (`xlt-engine results --xtreme`, the TUI's overview).

Scores follow engine.metrics.xtreme (XTREME's evaluate.py): a task's score is
the mean over its languages, QA tasks use (EM + F1) / 2, the overall score is
the unweighted mean of the nine task scores and exists only with all nine.
Each seed is aggregated on its own; cells show the mean (± std) over seeds.

Light module: no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.metrics import xtreme
from engine.report import Cell, Pivot, baseline_first, set_deltas

METRIC = "xtreme score"
OVERALL = "overall"


def xtreme_pivot(records: Sequence[dict[str, Any]]) -> Pivot:
    """Records of one run (any targets; non-XTREME targets are ignored)."""
    recs = [r for r in records if r["target"] in xtreme.XTREME_TASKS]
    # (intermediate, seed, task) -> language -> metric values (several runs of
    # one seed are averaged, as report.pivot does).
    per: dict[tuple, dict[str, list[dict[str, float]]]] = {}
    for r in recs:
        values = r.get("metrics") or {r["metric"]: r["value"]}
        key = (r["intermediate"], r["seed"], r["target"])
        per.setdefault(key, {}).setdefault(r["language"], []).append(values)
    rows = baseline_first(r["intermediate"] for r in recs)
    tasks = [t for t in xtreme.XTREME_TASKS if any(r["target"] == t for r in recs)]
    scores: dict[tuple[str, int], dict[str, float]] = {}
    for (row, seed, task), by_lang in per.items():
        languages = {lang: _mean_values(v) for lang, v in by_lang.items()}
        scores.setdefault((row, seed), {})[task] = xtreme.task_score(languages, task)
    groups = [g for g, members in xtreme.GROUPS.items() if set(members) <= set(tasks)]
    columns = [*tasks, *groups, OVERALL]
    table = Pivot("XTREME", METRIC, rows, columns)
    for row in rows:
        per_seed = {seed: s for (r, seed), s in scores.items() if r == row}
        for col in columns:
            values = []
            for seed in sorted(per_seed):
                value = _column_value(per_seed[seed], col, tasks)
                if value is not None:
                    values.append(value)
            if values:
                table.cells[(row, col)] = Cell(values)
    set_deltas(table)
    return table


def _column_value(task_scores: dict[str, float], column: str, tasks: list[str]):
    if column in xtreme.XTREME_TASKS:
        return task_scores.get(column)
    if column in xtreme.GROUPS:
        return xtreme.group_scores(task_scores).get(column)
    # The overall score: XTREME's (all nine) when complete, else the mean of
    # the tasks this run has, so a partial grid still reads left to right.
    if not all(t in task_scores for t in tasks):
        return None
    complete = xtreme.overall(task_scores)
    if complete is not None:
        return complete
    return sum(task_scores[t] for t in tasks) / len(tasks)


def _mean_values(runs: list[dict[str, float]]) -> dict[str, float]:
    keys = set.intersection(*(set(v) for v in runs))
    return {k: sum(float(v[k]) for v in runs) / len(runs) for k in keys}


def caption(table: Pivot) -> str:
    tasks = [c for c in table.columns if c in xtreme.XTREME_TASKS]
    if len(tasks) == len(xtreme.XTREME_TASKS):
        return "overall: the XTREME score (mean of the nine task scores)"
    return (
        f"overall: mean of the {len(tasks)} XTREME tasks in this run "
        "(the XTREME score needs all nine)"
    )
