"""A run's figure inputs, from the workspace: its results records (store)
and its event stream.

Changes come from the results pivot (`engine.report.pivot`): mean over seeds
minus the baseline's mean, without intervals. When the significance service
(`engine.significance`) gives paired-bootstrap intervals, callers pass its
changes instead; the figures say which they show.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.config import BASELINE
from engine.events import EventFileReader
from engine.figures.inputs import (
    AVERAGE,
    Change,
    LearningCurve,
    ValidationCheck,
    ValidationPoint,
)
from engine.report import default_split, of_split, pivot
from engine.store import Store
from engine.workspace import Workspace


@dataclass
class RunData:
    run: dict[str, Any]
    results: list[dict[str, Any]]
    events: list[dict[str, Any]]
    split: str | None  # the split the figures show (validation when present)
    workspace: Workspace | None = None  # where predictions for intervals are
    warnings: list[str] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return str(self.run["id"])

    @property
    def targets(self) -> list[str]:
        return list(dict.fromkeys(r["target"] for r in self.shown_results))

    @property
    def shown_results(self) -> list[dict[str, Any]]:
        return of_split(self.results, self.split) if self.split else []


def load_run(workspace: Workspace, store: Store, run: dict[str, Any]) -> RunData:
    results = store.results(run_id=run["id"])
    path = workspace.run_events(run["id"])
    events: list[dict[str, Any]] = []
    warnings: list[str] = []
    if path.exists():
        reader = EventFileReader(path)
        events = reader.read_new()
        if reader.bad_lines:
            warnings.append(f"{path}: skipped {reader.bad_lines} damaged line(s)")
    return RunData(run, results, events, default_split(results), workspace, warnings)


def changes_from_results(
    records: Sequence[dict[str, Any]], split: str | None = None
) -> list[Change]:
    """Every (target, intermediate, language or AVERAGE) change against the
    baseline, without intervals: mean over seeds minus the baseline's mean."""
    out: list[Change] = []
    for target in dict.fromkeys(r["target"] for r in records):
        table = pivot(records, target, split=split)
        for row in table.rows:
            if row == BASELINE:
                continue
            for column in table.columns:
                cell = table.cell(row, column)
                if cell is None or cell.delta is None:
                    continue
                out.append(
                    Change(
                        target=target,
                        intermediate=row,
                        language=AVERAGE if column == "avg" else column,
                        value=cell.mean,
                        delta=cell.delta,
                        metric=table.metric,
                        not_comparable=cell.not_comparable,
                    )
                )
    return out


def stage_ids(events: Iterable[dict[str, Any]]) -> list[str]:
    return list(
        dict.fromkeys(e["stage"] for e in events if e.get("type") == "stage_start")
    )


def learning_curve(events: Iterable[dict[str, Any]], stage: str) -> LearningCurve:
    """The stage's loss per step, its validation checks and the step kept:
    the best check for a target stage (stage_end's `best_step`), the last
    step for an intermediate stage (its final weights are what targets
    start from)."""
    curve = LearningCurve(stage)
    last_step = None
    for e in events:
        if e.get("stage") != stage:
            continue
        kind = e.get("type")
        if kind == "step" and isinstance(e.get("loss"), int | float):
            curve.steps.append(int(e["step"]))
            curve.losses.append(float(e["loss"]))
            last_step = int(e["step"])
        elif (
            kind == "eval"
            and e.get("split") == "validation"
            and e.get("step") is not None
            and isinstance(e.get("value"), int | float)
        ):
            curve.checks.append(
                ValidationCheck(
                    int(e["step"]),
                    float(e["value"]),
                    str(e.get("task", "")),
                    str(e.get("metric", "")),
                )
            )
        elif kind == "stage_end":
            if e.get("best_step") is not None:
                curve.kept_step, curve.kept_how = int(e["best_step"]), "best validation"
            elif e.get("steps") is not None:
                curve.kept_step, curve.kept_how = int(e["steps"]), "last step"
    if curve.kept_step is None and last_step is not None:
        curve.kept_step, curve.kept_how = last_step, "last step"
    return curve


def intermediate_validation(
    events: Iterable[dict[str, Any]],
) -> dict[str, tuple[float, str]]:
    """Each intermediate's own English validation score: per stage, the last
    check (intermediate stages keep their last weights), a multi-task group
    as the mean of its members' checks (as training selects on, jiant's
    EqualMetricAggregator); over seeds, the mean. Value and metric name."""
    task_of: dict[str, str] = {}
    last: dict[str, dict[str, tuple[float, str]]] = {}
    for e in events:
        kind, stage = e.get("type"), str(e.get("stage", ""))
        if kind == "stage_start" and e.get("kind") == "intermediate":
            task_of[stage] = str(e.get("task") or stage.split("/")[1])
        elif (
            kind == "eval"
            and stage in task_of
            and e.get("split") == "validation"
            and isinstance(e.get("value"), int | float)
        ):
            last.setdefault(stage, {})[str(e.get("task"))] = (
                float(e["value"]),
                str(e.get("metric", "")),
            )
    per_task: dict[str, list[float]] = {}
    metrics: dict[str, list[str]] = {}
    for stage, checks in last.items():
        task = task_of[stage]
        per_task.setdefault(task, []).append(
            statistics.fmean(v for v, _ in checks.values())
        )
        metrics.setdefault(task, []).extend(m for _, m in checks.values())
    return {
        task: (statistics.fmean(values), "/".join(dict.fromkeys(metrics[task])))
        for task, values in per_task.items()
    }


def validation_points(
    changes: Iterable[Change], validation: dict[str, tuple[float, str]]
) -> list[ValidationPoint]:
    """One point per intermediate with a validation score and at least one
    target average change: gain = mean of its per-target average changes."""
    gains: dict[str, list[float]] = {}
    gain_metrics: dict[str, list[str]] = {}
    for c in changes:
        if c.language == AVERAGE:
            gains.setdefault(c.intermediate, []).append(c.delta)
            gain_metrics.setdefault(c.intermediate, []).append(c.metric)
    return [
        ValidationPoint(
            name,
            validation[name][0],
            validation[name][1],
            statistics.fmean(values),
            "/".join(dict.fromkeys(gain_metrics[name])),
        )
        for name, values in gains.items()
        if name in validation
    ]
