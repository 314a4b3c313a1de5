"""A run's figures by kind: picks the inputs out of the run's results and
events, and turns "nothing to draw" and unknown names into InputErrors that
name the nearest valid value (exit 2 in the CLI)."""

from __future__ import annotations

import difflib
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import InputError, did_you_mean
from engine.figures import FIGURE_KINDS
from engine.figures.inputs import AVERAGE, Change
from engine.figures.ordering import read_ordering
from engine.figures.run_data import (
    RunData,
    changes_from_results,
    intermediate_validation,
    learning_curve,
    stage_ids,
    validation_points,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

NO_INTERVALS = (
    "no intervals: mean over seeds minus the baseline's mean "
    "(paired-bootstrap intervals need engine.significance)"
)


def run_changes(data: RunData) -> tuple[list[Change], str]:
    """The run's changes against the baseline and a note on their intervals:
    paired-bootstrap intervals (engine.significance) where the run kept
    per-example predictions, none elsewhere (the note says why)."""
    changes = changes_from_results(data.shown_results, data.split)
    if data.workspace is None or not data.split or not changes:
        return changes, NO_INTERVALS
    from engine import significance

    finder = significance.PredictionsFinder(data.workspace)
    by_cell: dict[tuple[str, str, str], Any] = {}
    notes: list[str] = []
    collapses = run_collapses(data, finder)
    changes = [_with_collapses(c, collapses) for c in changes]
    for target in dict.fromkeys(c.target for c in changes):
        sig = significance.target_significance(
            data.shown_results, data.workspace, target, data.split, finder=finder
        )
        for (row, language), paired in sig.results.items():
            by_cell[target, row, language] = paired
        if sig.results:
            notes.append(sig.settings.legend(sig.n_comparisons))
        notes.extend(dict.fromkeys(sig.missing.values()))
    if not by_cell:
        reasons = "; ".join(dict.fromkeys(notes)) or "no per-example predictions"
        return changes, f"no intervals: {reasons}"
    out = []
    for c in changes:
        result = by_cell.get((c.target, c.intermediate, c.language))
        out.append(
            c
            if result is None
            else replace(
                c,
                delta=result.delta,
                low=result.low,
                high=result.high,
                significant=result.significant,
            )
        )
    return out, "; ".join(dict.fromkeys(notes))


def run_collapses(data: RunData, finder: Any = None) -> dict[tuple[str, str, str], str]:
    """(target, intermediate, language) -> why that model's score is from a
    collapsed model (one class for nearly every example); read from the
    predictions files, no bootstrap."""
    if data.workspace is None or not data.split:
        return {}
    from engine import significance

    finder = finder or significance.PredictionsFinder(data.workspace)
    out: dict[tuple[str, str, str], str] = {}
    for target in data.targets:
        sig = significance.target_significance(
            data.shown_results,
            data.workspace,
            target,
            data.split,
            with_intervals=False,
            finder=finder,
        )
        for (row, language), check in sig.collapse.items():
            if check.collapsed:
                out[target, row, language] = significance.collapse_text(
                    row, language, check
                )
    return out


def _with_collapses(
    change: Change, collapses: dict[tuple[str, str, str], str]
) -> Change:
    """A change is suspect when either side of it collapsed (on its language,
    or on any language of an average)."""
    from engine.config import BASELINE

    def of(row: str) -> list[str]:
        return [
            why
            for (target, r, language), why in collapses.items()
            if target == change.target
            and r == row
            and change.language in (language, AVERAGE)
        ]

    reasons = tuple(dict.fromkeys([*of(change.intermediate), *of(BASELINE)]))
    return replace(change, collapsed=reasons) if reasons else change


def draw(
    kind: str,
    data: RunData,
    target: str | None = None,
    stage: str | None = None,
    order: str | Path | None = None,
) -> Figure:
    if kind not in FIGURE_KINDS:
        raise InputError(
            f"unknown figure '{kind}'{did_you_mean(kind, FIGURE_KINDS)} "
            f"(one of {', '.join(FIGURE_KINDS)})"
        )
    if kind == "learning-curve":
        from engine.figures.learning_curve import draw_learning_curve

        return draw_learning_curve(learning_curve(data.events, pick_stage(data, stage)))
    changes, note = run_changes(data)
    if not changes:
        raise InputError(
            f"run {data.run_id}: nothing to plot: no result has a baseline to "
            "compare with (the run needs 'baseline' and an intermediate task "
            "scored on the same target)"
        )
    if kind == "main":
        from engine.figures.main import draw_main

        return draw_main(changes, data.split or "", note)
    if kind == "languages":
        from engine.figures.languages import draw_languages

        chosen = pick_target(data, target, {c.target for c in changes})
        ordering = read_ordering(order) if order else None
        return draw_languages(
            changes,
            chosen,
            ordering,
            Path(order).stem if order else "",
            data.split or "",
            note,
        )
    from engine.figures.validation_gain import draw_validation_gain

    points = validation_points(changes, intermediate_validation(data.events))
    if not points:
        raise InputError(
            f"run {data.run_id}: nothing to plot: no intermediate stage of this "
            "run has an English validation check in its events"
        )
    return draw_validation_gain(points, data.split or "", note)


def pick_target(data: RunData, target: str | None, drawable: set[str]) -> str:
    targets = [t for t in data.targets if t in drawable]
    if target is None:
        if len(targets) == 1:
            return targets[0]
        raise InputError(
            f"--target: run {data.run_id} has several targets; choose one of "
            f"{', '.join(targets)}"
        )
    if target not in targets:
        raise InputError(
            f"--target: run {data.run_id} has no change against the baseline "
            f"on '{target}'{did_you_mean(target, targets)} "
            f"(its targets: {', '.join(nearest_first(target, targets))})"
        )
    return target


def pick_stage(data: RunData, stage: str | None) -> str:
    stages = stage_ids(data.events)
    if not stages:
        raise InputError(f"run {data.run_id}: nothing to plot: no stage in its events")
    if stage is None:
        raise InputError(
            f"--stage: which stage of run {data.run_id}? one of {', '.join(stages)}"
        )
    if stage not in stages:
        raise InputError(
            f"--stage: run {data.run_id} has no stage '{stage}'"
            f"{did_you_mean(stage, stages)} (its stages: {', '.join(stages)})"
        )
    return stage


def nearest_first(word: str, choices: list[str]) -> list[str]:
    return sorted(
        choices,
        key=lambda c: -difflib.SequenceMatcher(None, word, c).ratio(),
    )
