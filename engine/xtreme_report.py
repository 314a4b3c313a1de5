"""The paper-style table: one row per intermediate choice, one column per
XTREME target task, the four group scores and the overall score, each with its
change against the baseline (`xlt-engine results --xtreme`, the TUI's overview).

Scores follow engine.metrics.xtreme (XTREME's evaluate.py): a task's score is
the mean over its languages, QA tasks use (EM + F1) / 2. A task scored on only
some of XTREME's languages for it is partial and shows its coverage, "71.2
(3/15)"; a task with a result recorded as not comparable is marked (report.
NOT_COMPARABLE). Neither enters a group or the overall score: those average
the complete, comparable tasks only and say how many they cover when that is
not all ("64.0 (2/9)"); only 9/9 is the XTREME score. Each seed is aggregated
on its own; cells show the mean (± std) over seeds. A table is of one split.

`best_per_target` adds the paper's "best intermediate task per target" row:
per task, the intermediate task with the best validation score, reported with
its test scores (selecting on test and reporting test would overstate them).

Light module: no torch.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.config import BASELINE
from engine.metrics import xtreme
from engine.report import (
    Cell,
    Pivot,
    baseline_first,
    not_comparable_reason,
    of_split,
    one_split,
    set_deltas,
    splits_in,
)

METRIC = "xtreme score"
OVERALL = "overall"
BEST = "best per target"  # the row of the intermediate chosen per task
SELECT_SPLIT, REPORT_SPLIT = "validation", "test"

Record = dict[str, Any]


@dataclass
class TaskResult:
    """One (intermediate, seed, task): metric values per language."""

    task: str
    per_language: dict[str, dict[str, float]]
    not_comparable: tuple[str, ...] = ()

    @property
    def languages(self) -> tuple[str, ...]:
        """XTREME's languages of the task that were scored."""
        return xtreme.covered_languages(self.task, self.per_language)

    @property
    def complete(self) -> bool:
        return xtreme.is_complete(self.task, self.per_language)

    def score(self, languages: Iterable[str] | None = None) -> float:
        """The task score over XTREME's languages scored (or `languages`)."""
        langs = self.languages if languages is None else tuple(languages)
        return xtreme.task_score(self.per_language, self.task, langs)


# (intermediate, seed) -> task -> result
Results = dict[tuple[str, int], dict[str, TaskResult]]


def task_results(records: Sequence[Record]) -> Results:
    """Records of XTREME tasks (of one split), grouped and averaged: several
    runs of one seed count once, by their mean, as report.pivot does."""
    per: dict[tuple[str, int, str], dict[str, list[dict[str, float]]]] = {}
    reasons: dict[tuple[str, int, str], list[str]] = {}
    for r in records:
        if r["target"] not in xtreme.XTREME_TASKS:
            continue
        values = r.get("metrics") or {r["metric"]: r["value"]}
        key = (r["intermediate"], r["seed"], r["target"])
        per.setdefault(key, {}).setdefault(r["language"], []).append(values)
        reason = not_comparable_reason(r)
        if reason is not None:
            reasons.setdefault(key, []).append(reason)
    out: Results = {}
    for (row, seed, task), by_lang in per.items():
        result = TaskResult(
            task,
            {lang: _mean_values(v) for lang, v in by_lang.items()},
            tuple(_ordered(reasons.get((row, seed, task), ()))),
        )
        if result.languages:  # none of XTREME's languages: no task score
            out.setdefault((row, seed), {})[task] = result
    return out


def xtreme_pivot(records: Sequence[Record], split: str | None = None) -> Pivot:
    """The table of one split (`split`, or the one split the records have;
    records of two splits without `split` are refused). Non-XTREME targets
    are ignored."""
    recs, split = one_split(
        [r for r in records if r["target"] in xtreme.XTREME_TASKS],
        split,
        "XTREME results",
    )
    results = task_results(recs)
    rows = baseline_first(r["intermediate"] for r in recs)
    rows = [row for row in rows if any(k[0] == row for k in results)]
    tasks = [t for t in xtreme.XTREME_TASKS if any(t in v for v in results.values())]
    return _table(results, rows, tasks, split)


def _table(results: Results, rows: list[str], tasks: list[str], split: str) -> Pivot:
    groups = [g for g, members in xtreme.GROUPS.items() if set(members) <= set(tasks)]
    columns = [*tasks, *groups, OVERALL]
    table = Pivot("XTREME", METRIC, rows, columns, split=split)
    # What each cell averages (languages or tasks): a change against the
    # baseline is only shown between cells that average the same things.
    covers: dict[tuple[str, str], tuple[str, ...]] = {}
    for row in rows:
        per_seed = {seed: s for (r, seed), s in sorted(results.items()) if r == row}
        complete = []
        for task in tasks:
            have = [s[task] for s in per_seed.values() if task in s]
            if not have:
                continue
            langs = min((h.languages for h in have), key=len)
            reasons = tuple(_ordered(x for h in have for x in h.not_comparable))
            n = len(xtreme.TASK_LANGUAGES[task])
            table.cells[(row, task)] = Cell(
                [h.score() for h in have],
                not_comparable=reasons,
                coverage=None if len(langs) == n else (len(langs), n),
            )
            covers[(row, task)] = langs
            if len(have) == len(per_seed) and not reasons:
                if all(h.complete for h in have):
                    complete.append(task)
        for column in (*groups, OVERALL):
            members = xtreme.GROUPS.get(column, xtreme.XTREME_TASKS)
            values = []
            for scores in per_seed.values():
                mean = xtreme.mean_of_complete(
                    {t: r.score() for t, r in scores.items()}, complete, members
                )
                if mean is not None:
                    values.append(mean[0])
            used = tuple(t for t in members if t in complete)
            if values:
                full = len(used) == len(members)
                table.cells[(row, column)] = Cell(
                    values, coverage=None if full else (len(used), len(members))
                )
                covers[(row, column)] = used
    set_deltas(table)
    for (row, column), cell in table.cells.items():
        if covers.get((row, column)) != covers.get((BASELINE, column)):
            cell.delta = None
    return table


def _ordered(items: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(items))  # first-seen order


def _mean_values(runs: list[dict[str, float]]) -> dict[str, float]:
    keys = set.intersection(*(set(v) for v in runs))
    return {k: sum(float(v[k]) for v in runs) / len(runs) for k in keys}


def caption(table: Pivot) -> str:
    """What the aggregate columns are, and what a partial or marked cell means."""
    tasks = [c for c in table.columns if c in xtreme.XTREME_TASKS]
    overall = [table.cell(row, OVERALL) for row in table.rows]
    if (
        len(tasks) == len(xtreme.XTREME_TASKS)
        and overall
        and all(c is not None and c.coverage is None for c in overall)
    ):
        text = "overall: the XTREME score (mean of the nine task scores)"
    else:
        text = (
            "overall and group scores: mean of the complete, comparable tasks "
            "only, (k/n): the tasks they cover; the XTREME score needs all nine, "
            "each on all its languages"
        )
    partial = any(
        c.coverage is not None
        for (_, col), c in table.cells.items()
        if col in xtreme.XTREME_TASKS
    )
    if partial:
        text += "; a task with (k/n) is partial: k of XTREME's n languages"
    return text


# -- the best intermediate task per target ---------------------------------------------


@dataclass
class Selection:
    """Per task: the intermediate chosen on validation, and why not where none."""

    chosen: dict[str, str] = field(default_factory=dict)
    validation_scores: dict[str, dict[str, float]] = field(default_factory=dict)
    languages: dict[str, tuple[str, ...]] = field(default_factory=dict)
    not_chosen: dict[str, str] = field(default_factory=dict)  # task -> why


def select_best(records: Sequence[Record]) -> Selection:
    """Per XTREME task, the intermediate task (the baseline is no candidate:
    the row answers "which intermediate task to use") whose validation task
    score, mean over seeds, is highest; a tie goes to the one listed first.
    Candidates are compared on the validation languages they all have, and
    need test results to report. The paper (Phang et al. 2020, abstract:
    "our best intermediate-task models for each target task") does not say
    how it compared candidates' validation scores across languages; this is
    the choice that needs no test number."""
    val = task_results(of_split(records, SELECT_SPLIT))
    test = task_results(of_split(records, REPORT_SPLIT))
    tasks = [
        t
        for t in xtreme.XTREME_TASKS
        if any(t in v for v in (*val.values(), *test.values()))
    ]
    rows = baseline_first(r["intermediate"] for r in records)
    out = Selection()
    for task in tasks:
        candidates: dict[str, list[TaskResult]] = {}
        for row in rows:
            if row == BASELINE:
                continue
            has_test = any(task in s for (r, _), s in test.items() if r == row)
            have = [
                s[task] for (r, _), s in sorted(val.items()) if r == row and task in s
            ]
            if have and has_test:
                candidates[row] = have
        if not candidates:
            no_val = not any(task in s for s in val.values())
            out.not_chosen[task] = (
                f"no {SELECT_SPLIT} results"
                if no_val
                else f"no intermediate task with both {SELECT_SPLIT} and "
                f"{REPORT_SPLIT} results"
            )
            continue
        common = set.intersection(
            *(set(h.languages) for have in candidates.values() for h in have)
        )
        langs = xtreme.covered_languages(task, common)
        if not langs:
            out.not_chosen[task] = (
                f"the candidates share no {SELECT_SPLIT} language to compare on"
            )
            continue
        scores = {
            row: statistics.fmean(h.score(langs) for h in have)
            for row, have in candidates.items()
        }
        out.chosen[task] = max(scores, key=lambda row: scores[row])
        out.validation_scores[task] = scores
        out.languages[task] = langs
    return out


def best_per_target(records: Sequence[Record]) -> tuple[Pivot, Selection]:
    """The test table with the row BEST last: per task the test scores of the
    intermediate chosen on validation (its name is the cell's label); its
    group and overall scores average those chosen tasks."""
    selection = select_best(records)
    recs = [r for r in records if r["target"] in xtreme.XTREME_TASKS]
    test_recs = of_split(recs, REPORT_SPLIT)
    results = task_results(test_recs)
    rows = baseline_first(r["intermediate"] for r in test_recs)
    rows = [row for row in rows if any(k[0] == row for k in results)]
    tasks = [t for t in xtreme.XTREME_TASKS if any(t in v for v in results.values())]
    for task, chosen in selection.chosen.items():
        for (row, seed), scores in list(results.items()):
            if row == chosen and task in scores:
                results.setdefault((BEST, seed), {})[task] = scores[task]
    if any(k[0] == BEST for k in results):
        rows.append(BEST)
    table = _table(results, rows, tasks, REPORT_SPLIT)
    for task, chosen in selection.chosen.items():
        cell = table.cell(BEST, task)
        if cell is not None:
            cell.label = chosen
    return table, selection


def selection_caption(selection: Selection) -> str:
    text = (
        f"{BEST}: per task, the intermediate task with the best {SELECT_SPLIT} "
        f"score (mean over seeds), shown with its {REPORT_SPLIT} score"
    )
    if selection.not_chosen:
        text += "; none chosen for " + ", ".join(
            f"{task} ({why})" for task, why in selection.not_chosen.items()
        )
    return text


def missing_for_selection(records: Iterable[Record]) -> list[str]:
    """The splits selecting needs that the XTREME records lack."""
    present = set(splits_in(r for r in records if r["target"] in xtreme.XTREME_TASKS))
    return [s for s in (SELECT_SPLIT, REPORT_SPLIT) if s not in present]


def selection_record(selection: Selection, task: str) -> Mapping[str, Any] | None:
    """What the choice for `task` was made on (for machine formats)."""
    if task not in selection.chosen:
        return None
    return {
        "split": SELECT_SPLIT,
        "chosen": selection.chosen[task],
        "languages": list(selection.languages[task]),
        "scores": selection.validation_scores[task],
    }
