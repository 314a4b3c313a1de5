"""A run's results -> paired significance against the baseline (issue 13).

For one target and split: per language, every system's (baseline and each
intermediate choice, all seeds) per-example predictions are read back
(engine.predictions), paired by example id and bootstrapped together
(engine.stats); the per-target average is the resample-by-resample mean over
languages; each change against the baseline gets an interval and a p-value,
and the p-values of the whole table are corrected together. Beside them: the
majority-class and chance levels of each language's gold, and whether a model
predicts one class for nearly every example (collapsed).

A result scored before predictions were kept has no file: its cell carries
the reason (`missing`), never a number made up.

Light module: numpy, engine.stats, engine.predictions; no torch.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.config import BASELINE
from engine.errors import InputError
from engine.predictions import Predictions, pair, read_predictions
from engine.stats.bootstrap import (
    DEFAULT_ALPHA,
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    METHOD,
    CellSamples,
    PairedResult,
    compare,
    compare_table,
    correct,
    mean_of,
)
from engine.stats.multiple import CORRECTIONS
from engine.stats.reference import (
    DEFAULT_COLLAPSE_THRESHOLD,
    CollapseCheck,
    ReferenceLevels,
    collapsed,
    reference_levels,
    span_collapse,
)
from engine.stats.tables import bootstrap_tables
from engine.workspace import Workspace

AVG = "avg"
SIGNIFICANT = "*"  # plain characters: they survive NO_COLOR, pipes and CSV
COLLAPSED = "!"
NO_PREDICTIONS = "?"
CORRECTION_NAMES = {"holm": "Holm", "bh": "Benjamini-Hochberg", "none": "no correction"}


@dataclass(frozen=True)
class SignificanceSettings:
    """How the intervals and tests are made; recorded in every output."""

    n_resamples: int = DEFAULT_RESAMPLES
    """1,000: Koehn 2004 section 4 and sacrebleu's --paired-bs default."""
    seed: int = 0
    """The bootstrap's random seed (each cell draws from seed + its key)."""
    confidence: float = DEFAULT_CONFIDENCE
    alpha: float = DEFAULT_ALPHA
    correction: str = "holm"
    """Holm by default: it controls the family-wise error over the table with
    no assumption on how the cells depend on each other (they share a
    baseline). "bh" (Benjamini-Hochberg, false discovery rate) is the option
    for tables of many cells, where Holm loses power; "none" reports raw p."""
    collapse_threshold: float = DEFAULT_COLLAPSE_THRESHOLD
    """engine.stats.reference: one class in >= 90% of predictions."""

    def __post_init__(self) -> None:
        if self.n_resamples < 1:
            raise InputError(
                f"--resamples: {self.n_resamples} is not a number of resamples; "
                f"expected a positive integer (default {DEFAULT_RESAMPLES})"
            )
        if self.seed < 0:  # numpy's generators take no negative seed
            raise InputError(
                f"--bootstrap-seed: {self.seed} is negative; expected an integer "
                ">= 0 (default 0)"
            )
        if self.correction not in CORRECTIONS:
            raise InputError(
                f"--correction: '{self.correction}' is not one of "
                f"{', '.join(CORRECTIONS)}"
            )
        if not 0 < self.confidence < 1 or not 0 < self.alpha < 1:
            raise InputError("confidence and alpha must lie strictly between 0 and 1")

    def as_dict(self) -> dict[str, Any]:
        return {
            "n_resamples": self.n_resamples,
            "bootstrap_seed": self.seed,
            "confidence": self.confidence,
            "alpha": self.alpha,
            "correction": self.correction,
        }

    def legend(self, n_comparisons: int) -> str:
        """The sentence under a table that says what the intervals and the
        mark are."""
        how = CORRECTION_NAMES[self.correction]
        after = "with no correction" if self.correction == "none" else f"after {how}"
        return (
            f"[low, high]: {self.confidence:.0%} interval of the change ({METHOD}, "
            f"{self.n_resamples} resamples, seed {self.seed}); {SIGNIFICANT} "
            f"significant at {self.alpha:g} {after} over {n_comparisons} comparisons"
        )


@dataclass
class TargetSignificance:
    """Significance of one target's table on one split."""

    target: str
    split: str
    metric: str
    settings: SignificanceSettings
    results: dict[tuple[str, str], PairedResult] = field(default_factory=dict)
    """(intermediate, language or "avg") -> the change against the baseline."""
    references: dict[str, ReferenceLevels] = field(default_factory=dict)
    """language -> majority/chance of its gold (label kinds only)."""
    collapse: dict[tuple[str, str], CollapseCheck] = field(default_factory=dict)
    """(intermediate, language) -> the collapse check of its worst seed."""
    missing: dict[tuple[str, str], str] = field(default_factory=dict)
    """(intermediate, language) -> why it has no interval."""
    code: dict[tuple[str, str], CodeCell] = field(default_factory=dict)
    """(intermediate, language) -> pass@k intervals and the greedy McNemar
    test (code targets whose predictions carry them)."""

    @property
    def n_comparisons(self) -> int:
        return len(self.results)

    def legend(self) -> list[str]:
        lines = [self.settings.legend(self.n_comparisons)] if self.results else []
        if self.references:
            levels = ", ".join(
                f"{lang} {ref.majority * 100:.1f}/{ref.chance * 100:.1f}"
                for lang, ref in self.references.items()
            )
            lines.append(f"majority-class/chance level of the gold: {levels}")
        for (row, lang), check in self.collapse.items():
            if check.collapsed:
                why = collapse_text(row, lang, check)
                lines.append(f"{COLLAPSED} collapsed: {why}")
        for reason in dict.fromkeys(self.missing.values()):
            lines.append(f"{NO_PREDICTIONS} {reason}")
        lines.extend(code_legend(self.code, self.settings))
        return lines

    def fields(self, intermediate: str, language: str) -> dict[str, Any]:
        """The machine-readable columns of one cell (CSV/JSON)."""
        result = self.results.get((intermediate, language))
        ref = self.references.get(language)
        check = self.collapse.get((intermediate, language))
        row: dict[str, Any] = {
            "delta": result.delta if result else None,
            "ci_low": result.low if result else None,
            "ci_high": result.high if result else None,
            "p": result.p if result else None,
            "p_adjusted": result.p_adjusted if result else None,
            "significant": result.significant if result else None,
            "n_paired": result.n_examples if result else None,
            **self.settings.as_dict(),
            "majority": ref.majority if ref else None,
            "chance": ref.chance if ref else None,
            "collapsed": check.collapsed if check else None,
            "no_ci": self.missing.get((intermediate, language)),
        }
        code = self.code.get((intermediate, language))
        if code is not None:
            row.update(code.fields())
        return row


def collapse_text(row: str, language: str, check: CollapseCheck) -> str:
    if check.top_label is None:
        return (
            f"{row} on {language} predicts {check.top_share:.0%} as many spans as "
            "the gold has"
        )
    return (
        f"{row} on {language} predicts '{check.top_label}' for "
        f"{check.top_share:.0%} of examples"
    )


# --- finding a record's predictions -------------------------------------------


def no_predictions_reason(evaluation: Path | None) -> str:
    """Why a result has no interval: it was scored before predictions were
    kept (or its files were moved)."""
    # One sentence for every such cell (a table's legend says it once); the
    # file to delete is the cell's evaluation under stages/<stage key>/.
    how = (
        "after deleting its evaluation file, stages/<stage key>/evaluations/"
        "<evaluation key>.json"
        if evaluation is not None
        else "in a workspace that has its stage"
    )
    return (
        "no per-example predictions: scored before predictions were kept; "
        f"re-score with `xlt-engine run CONFIG` {how}"
    )


class PredictionsFinder:
    """Finds and reads the predictions file behind a result record: its
    stage's evaluation whose score has the record's language and split.
    Files are read once."""

    def __init__(self, workspace: Workspace):
        self.workspace = workspace
        self._evaluations: dict[str, list[tuple[dict[str, Any], Path]]] = {}
        self._read: dict[Path, Predictions] = {}

    def _of_stage(self, key: str) -> list[tuple[dict[str, Any], Path]]:
        if key not in self._evaluations:
            folder = self.workspace.stage_dir(key) / "evaluations"
            found = []
            for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
                try:
                    saved = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue
                if isinstance(saved, dict) and isinstance(saved.get("score"), dict):
                    found.append((saved, path))
            self._evaluations[key] = found
        return self._evaluations[key]

    def find(self, record: Mapping[str, Any]) -> tuple[Path | None, Path | None]:
        """(predictions file or None, the evaluation file it belongs to)."""
        key = record.get("stage_key")
        if not key:
            return None, None
        split = str(record.get("split") or "test")
        matches = [
            (saved, path)
            for saved, path in self._of_stage(str(key))
            if saved["score"].get("language") == record["language"]
            and str(saved["score"].get("split") or "test") == split
        ]
        # The data may have changed between runs (two evaluations of one
        # language): the one whose score is the record's.
        matches.sort(key=lambda m: m[0]["score"].get("value") != record.get("value"))
        for saved, path in matches:
            evaluation_key = str(saved.get("key") or path.stem)
            predictions = self.workspace.stage_predictions(str(key), evaluation_key)
            if predictions.is_file():
                return predictions, path
        return None, matches[0][1] if matches else None

    def read(self, path: Path) -> Predictions:
        if path not in self._read:
            try:
                self._read[path] = read_predictions(path)
            except (OSError, ValueError) as exc:
                raise InputError(f"{path}: cannot read predictions ({exc})") from None
        return self._read[path]

    def of_records(
        self, records: Sequence[Mapping[str, Any]]
    ) -> tuple[list[Predictions], str | None]:
        """One system's predictions (a record per seed), or the reason there
        are none."""
        out = []
        for record in records:
            path, evaluation = self.find(record)
            if path is None:
                return [], no_predictions_reason(evaluation)
            out.append(self.read(path))
        return out, None


# --- the table ---------------------------------------------------------------


def per_seed(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """One record per seed (a seed recorded by several runs: the last)."""
    by_seed: dict[Any, Mapping[str, Any]] = {}
    for record in records:
        by_seed[record.get("seed")] = record
    return [by_seed[s] for s in sorted(by_seed, key=str)]


def target_significance(
    records: Sequence[Mapping[str, Any]],
    workspace: Workspace,
    target: str,
    split: str,
    settings: SignificanceSettings | None = None,
    *,
    with_intervals: bool = True,
    finder: PredictionsFinder | None = None,
) -> TargetSignificance:
    """Significance of `target`'s table on `split` from result records.
    `with_intervals=False` only reads reference levels and collapse flags
    (cheap: no bootstrap)."""
    settings = settings or SignificanceSettings()
    finder = finder or PredictionsFinder(workspace)
    ours = [
        r
        for r in records
        if r["target"] == target and str(r.get("split") or "test") == split
    ]
    metric = str(ours[0]["metric"]) if ours else ""
    out = TargetSignificance(target, split, metric, settings)
    groups = by_cell(ours)
    languages = list(dict.fromkeys(lang for _, lang in groups))
    cells: dict[tuple[str, ...], CellSamples] = {}
    for language in languages:
        systems, missing = systems_of(groups, language, finder)
        for row, reason in missing.items():
            out.missing[row, language] = reason
        for row, tables in systems.items():
            _reference_and_collapse(out, row, language, tables, settings)
        if not with_intervals:
            continue
        for row, cell in code_cells(systems, settings, (target, language)).items():
            out.code[row, language] = cell
        if BASELINE not in systems:
            for row in systems:
                if row != BASELINE:
                    out.missing[row, language] = (
                        "no interval: the baseline has no per-example predictions"
                        f" for {language}"
                        if (BASELINE, language) in groups
                        else f"no interval: no baseline result for {language}"
                    )
            continue
        if len(systems) < 2:
            continue
        metrics = _metric_reducer(systems, metric, target, language)
        cells[(language,)] = bootstrap_tables(
            systems,
            metrics,
            n_resamples=settings.n_resamples,
            seed=settings.seed,
            key=(target, language),
        )[metric]
    if not cells:
        return out
    average = _average(cells, languages)
    if average is not None:
        cells[(AVG,)] = average
    compared = compare_table(
        cells,
        BASELINE,
        correction=settings.correction,
        confidence=settings.confidence,
        alpha=settings.alpha,
    )
    out.results = {(row, lang): res for (lang, row), res in compared.items()}
    return out


Cells = dict[tuple[str, str], list[Mapping[str, Any]]]


def by_cell(records: Iterable[Mapping[str, Any]]) -> Cells:
    """Result records grouped by (intermediate, language)."""
    groups: Cells = {}
    for r in records:
        groups.setdefault((r["intermediate"], r["language"]), []).append(r)
    return groups


def systems_of(
    groups: Cells, language: str, finder: PredictionsFinder
) -> tuple[dict[str, list[Predictions]], dict[str, str]]:
    """Per intermediate of `language`: its predictions (one table per seed),
    or why it has none."""
    systems: dict[str, list[Predictions]] = {}
    missing: dict[str, str] = {}
    for (row, lang), recs in groups.items():
        if lang != language:
            continue
        tables, reason = finder.of_records(per_seed(recs))
        if reason is not None:
            missing[row] = reason
        else:
            systems[row] = tables
    return systems, missing


def _metric_reducer(
    systems: Mapping[str, Sequence[Predictions]], metric: str, target: str, lang: str
) -> dict[str, str]:
    header = next(iter(systems.values()))[0].header
    reducers = header.get("metrics") or {}
    if metric not in reducers:
        raise InputError(
            f"{target} {lang}: the predictions rebuild {', '.join(reducers) or 'no'} "
            f"metric(s), not the reported '{metric}'"
        )
    return {metric: str(reducers[metric])}


def _average(
    cells: Mapping[tuple[str, ...], CellSamples], languages: Sequence[str]
) -> CellSamples | None:
    """The per-target average over languages, for the systems every language
    has (as the table's own average needs every language)."""
    if len(cells) != len(languages) or len(languages) < 2:
        return None
    return mean_of_shared(list(cells.values()))


def mean_of_shared(cells: Sequence[CellSamples]) -> CellSamples | None:
    """The resample-by-resample mean of `cells` over the systems every one of
    them has; None unless the baseline and another system are among those."""
    common = [s for s in cells[0].systems if all(s in c.systems for c in cells)]
    if BASELINE not in common or len(common) < 2:
        return None
    return mean_of([only_systems(c, common) for c in cells])


def only_systems(cell: CellSamples, systems: Sequence[str]) -> CellSamples:
    """`cell` reduced to `systems`, in that order (for averaging cells)."""
    take = [cell.index(s) for s in systems]
    return CellSamples(
        systems=tuple(systems),
        point=cell.point[take],
        samples=cell.samples[take],
        n_examples=cell.n_examples,
        n_seeds={s: cell.n_seeds[s] for s in systems},
        seed=cell.seed,
    )


def _reference_and_collapse(
    out: TargetSignificance,
    row: str,
    language: str,
    tables: Sequence[Predictions],
    settings: SignificanceSettings,
) -> None:
    """Reference levels (label kinds, from the gold) and the worst seed's
    collapse check of one cell."""
    worst: CollapseCheck | None = None
    for table in tables:
        check = _collapse_of(table, settings.collapse_threshold)
        if check is not None and (worst is None or check.collapsed > worst.collapsed):
            worst = check
        if language not in out.references and _is_labels(table.gold):
            labels = table.header.get("labels")
            out.references[language] = reference_levels(
                [_hashable(g) for g in table.gold], labels or None
            )
    if worst is not None:
        out.collapse[row, language] = worst


def _collapse_of(table: Predictions, threshold: float) -> CollapseCheck | None:
    if _is_labels(table.gold) and _is_labels(table.predictions):
        return collapsed(
            [_hashable(p) for p in table.predictions],
            [_hashable(g) for g in table.gold],
            threshold,
        )
    if all(c in table.columns for c in ("tp", "fp", "fn")):
        tp, fp, fn = (int(np.nansum(table.columns[c])) for c in ("tp", "fp", "fn"))
        return span_collapse(tp, fp, fn, threshold)
    return None


def _is_labels(values: Sequence[Any]) -> bool:
    return bool(values) and all(isinstance(v, (str, int)) for v in values)


def _hashable(value: Any) -> Hashable:
    return value if isinstance(value, Hashable) else json.dumps(value)


# --- two runs or choices -------------------------------------------------------


@dataclass
class Comparison:
    """`compare A B`: per (target, language), B - A on the shared examples."""

    a: str
    b: str
    split: str
    settings: SignificanceSettings
    results: dict[tuple[str, str, str], PairedResult] = field(default_factory=dict)
    """(target, language, "A-choice -> B-choice") -> B - A."""
    sizes: dict[tuple[str, str, str], tuple[int, int]] = field(default_factory=dict)
    """The same keys -> (examples A scored, examples B scored)."""
    missing: dict[tuple[str, str, str], str] = field(default_factory=dict)


def compare_choices(
    pairs: Sequence[tuple[str, str, str, Sequence[Mapping], Sequence[Mapping]]],
    workspace: Workspace,
    split: str,
    settings: SignificanceSettings,
    a: str = "A",
    b: str = "B",
) -> Comparison:
    """`pairs`: (target, language, label, A's records, B's records) per cell.
    Each cell: A's and B's predictions (all seeds) paired by example id,
    B - A bootstrapped; p-values corrected over the whole table."""
    finder = PredictionsFinder(workspace)
    out = Comparison(a, b, split, settings)
    raw: dict[tuple, PairedResult] = {}
    for target, language, label, recs_a, recs_b in pairs:
        key = (target, language, label)
        tables_a, reason_a = finder.of_records(per_seed(recs_a))
        tables_b, reason_b = finder.of_records(per_seed(recs_b))
        reason = reason_a or reason_b
        if reason is not None:
            out.missing[key] = f"{'A' if reason_a else 'B'}: {reason}"
            continue
        metric = str(recs_a[0]["metric"])
        if recs_b[0]["metric"] != metric:
            out.missing[key] = (
                f"A reports {metric}, B reports {recs_b[0]['metric']}: not comparable"
            )
            continue
        ids_a = set.intersection(*(set(map(str, t.ids)) for t in tables_a))
        ids_b = set.intersection(*(set(map(str, t.ids)) for t in tables_b))
        if not ids_a & ids_b:
            out.missing[key] = "A and B share no evaluated example (different data)"
            continue
        cell = bootstrap_tables(
            {"A": tables_a, "B": tables_b},
            _metric_reducer({"A": tables_a}, metric, target, language),
            n_resamples=settings.n_resamples,
            seed=settings.seed,
            key=(target, language),
        )[metric]
        raw[key] = compare(
            cell, "A", confidence=settings.confidence, alpha=settings.alpha
        )["B"]
        out.sizes[key] = (len(ids_a), len(ids_b))
    out.results = correct(raw, settings.correction, settings.alpha) if raw else {}
    return out


# --- code targets: pass@k intervals and McNemar on greedy pass ----------------

GREEDY_PASS = "pass@1-greedy"


@dataclass(frozen=True)
class CodeCell:
    """One system's code scores in one language: each pass@k with its
    percentile interval from resampling problems, and (not for the baseline)
    McNemar's exact test on greedy pass against the baseline's, problem by
    problem (first seed)."""

    intervals: dict[str, tuple[float, float, float]]
    """metric -> (value, low, high), unscaled (0-1)."""
    only_system: int | None = None
    only_baseline: int | None = None
    mcnemar_p: float | None = None

    def fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            f"{m}_ci": [low, high] for m, (_, low, high) in self.intervals.items()
        }
        if self.mcnemar_p is not None:
            out |= {
                "greedy_only_this": self.only_system,
                "greedy_only_baseline": self.only_baseline,
                "mcnemar_p": self.mcnemar_p,
            }
        return out


def _pass_columns(table: Predictions) -> list[str]:
    metrics = table.header.get("metrics") or {}
    return [m for m in metrics if str(m).startswith("pass@")]


def code_cells(
    systems: Mapping[str, Sequence[Predictions]],
    settings: SignificanceSettings,
    key: tuple[str, str],
) -> dict[str, CodeCell]:
    """Every system's CodeCell in one language (empty for non-code targets)."""
    from engine.stats.mcnemar import discordant_counts, mcnemar_exact

    base = systems.get(BASELINE)
    cells = {}
    for row, tables in systems.items():
        table = tables[0]
        columns = _pass_columns(table)
        if not columns or not len(table):
            continue
        seed = settings.seed + sum(map(ord, "/".join((*key, row))))
        rng = np.random.default_rng(seed)
        draws = rng.integers(0, len(table), size=(settings.n_resamples, len(table)))
        tail = (1 - settings.confidence) / 2
        intervals = {}
        for name in columns:
            values = table.columns[name]
            means = values[draws].mean(axis=1)
            low, high = np.quantile(means, [tail, 1 - tail])
            intervals[name] = (float(values.mean()), float(low), float(high))
        cell = CodeCell(intervals)
        if (
            row != BASELINE
            and base is not None
            and GREEDY_PASS in table.columns
            and GREEDY_PASS in base[0].columns
        ):
            ours, theirs = pair(table, base[0])
            only_system, only_baseline = discordant_counts(
                table.columns[GREEDY_PASS][ours] > 0.5,
                base[0].columns[GREEDY_PASS][theirs] > 0.5,
            )
            cell = CodeCell(
                intervals,
                only_system,
                only_baseline,
                mcnemar_exact(only_system, only_baseline),
            )
        cells[row] = cell
    return cells


def code_legend(
    code: Mapping[tuple[str, str], CodeCell], settings: SignificanceSettings
) -> list[str]:
    """Lines under a code target's table: pass@k intervals, McNemar tests."""
    if not code:
        return []
    lines = [
        f"pass@k {settings.confidence:.0%} interval (percentile bootstrap over "
        f"problems, {settings.n_resamples} resamples):"
    ]
    for (row, lang), cell in code.items():
        shown = ", ".join(
            f"{m} {v * 100:.1f} [{lo * 100:.1f}, {hi * 100:.1f}]"
            for m, (v, lo, hi) in cell.intervals.items()
        )
        lines.append(f"  {row} {lang}: {shown}")
    tests = [(k, c) for k, c in code.items() if c.mcnemar_p is not None]
    if tests:
        lines.append(
            "McNemar's exact test on greedy pass against the baseline, paired by "
            "problem (first seed; no multiple-comparison correction):"
        )
        lines.extend(
            f"  {row} {lang}: solved only by it {c.only_system}, only by the "
            f"baseline {c.only_baseline}, p = {c.mcnemar_p:.3g}"
            for (row, lang), c in tests
        )
    return lines


# --- the XTREME table ----------------------------------------------------------


def xtreme_significance(
    records: Sequence[Mapping[str, Any]],
    workspace: Workspace,
    split: str,
    settings: SignificanceSettings | None = None,
    *,
    finder: PredictionsFinder | None = None,
) -> TargetSignificance:
    """Intervals for the XTREME table's changes: each task score (the mean over
    XTREME's languages of the task; QA (EM + F1) / 2 per language, as
    engine.metrics.xtreme.task_score) and each group and the overall score (the
    mean of the tasks that cover all of XTREME's languages), all from the same
    per-language resamples, so a task score's interval is the mean of its
    languages' resamples, not a combination of separate intervals. Results are
    keyed (intermediate, column); one correction over the whole table."""
    from engine.metrics import xtreme

    settings = settings or SignificanceSettings()
    finder = finder or PredictionsFinder(workspace)
    out = TargetSignificance("XTREME", split, "xtreme score", settings)
    ours = [
        r
        for r in records
        if r["target"] in xtreme.XTREME_TASKS and str(r.get("split") or "test") == split
    ]
    tasks: dict[str, CellSamples] = {}
    complete: list[str] = []
    for task in xtreme.XTREME_TASKS:
        cell, languages = _xtreme_task_cell(
            [r for r in ours if r["target"] == task], task, finder, settings, out
        )
        if cell is None:
            continue
        tasks[task] = cell
        if xtreme.is_complete(task, languages):
            complete.append(task)
    cells: dict[tuple[str, ...], CellSamples] = {(t,): c for t, c in tasks.items()}
    present = {r["target"] for r in ours}
    # The table's columns (engine.xtreme_report): a group once all its tasks
    # have results; its score, like the overall one, from the complete tasks.
    columns = [
        (group, members)
        for group, members in xtreme.GROUPS.items()
        if set(members) <= present
    ]
    for column, members in (*columns, ("overall", xtreme.XTREME_TASKS)):
        used = [t for t in members if t in complete]
        group_cell = mean_of_shared([tasks[t] for t in used]) if used else None
        if group_cell is not None:
            cells[(column,)] = group_cell
    if not cells:
        return out
    compared = compare_table(
        cells,
        BASELINE,
        correction=settings.correction,
        confidence=settings.confidence,
        alpha=settings.alpha,
    )
    out.results.update({(row, col): res for (col, row), res in compared.items()})
    return out


def _xtreme_task_cell(
    records: Sequence[Mapping[str, Any]],
    task: str,
    finder: PredictionsFinder,
    settings: SignificanceSettings,
    out: TargetSignificance,
) -> tuple[CellSamples | None, tuple[str, ...]]:
    """One task's score, resampled: per XTREME language the systems that have
    predictions, then the mean over the languages every system shares."""
    from engine.metrics import xtreme

    groups = by_cell(records)
    languages = xtreme.covered_languages(task, {lang for _, lang in groups})
    per_language: list[CellSamples] = []
    for language in languages:
        systems, missing = systems_of(groups, language, finder)
        for row, reason in missing.items():
            out.missing[row, task] = reason
        if BASELINE not in systems or len(systems) < 2:
            return None, ()
        names = (
            ("exact_match", "f1")
            if task in xtreme.QA_TASKS
            else (str(groups[BASELINE, language][0]["metric"]),)
        )
        metrics = {
            k: v
            for name in names
            for k, v in _metric_reducer(systems, name, task, language).items()
        }
        samples = bootstrap_tables(
            systems,
            metrics,
            n_resamples=settings.n_resamples,
            seed=settings.seed,
            key=(task, language),
        )
        parts = list(samples.values())
        per_language.append(
            mean_of(parts, n_examples=parts[0].n_examples)
            if len(parts) > 1
            else parts[0]
        )
    task_cell = mean_of_shared(per_language) if per_language else None
    return (task_cell, languages) if task_cell is not None else (None, ())


# --- what `compare A B` pairs ----------------------------------------------------

ComparePair = tuple[str, str, str, list[Mapping[str, Any]], list[Mapping[str, Any]]]


def compare_pairs(
    choice_a: str | None,
    choice_b: str | None,
    recs_a: Sequence[Mapping[str, Any]],
    recs_b: Sequence[Mapping[str, Any]],
) -> list[ComparePair]:
    """(target, language, label, A's records, B's records) per cell both sides
    have, as `compare_choices` takes them. Two whole runs: the same
    intermediate on both sides, labelled by it; one side's choice given: that
    choice on the side without one too, labelled "a -> b"."""
    choice_a = choice_a or choice_b
    choice_b = choice_b or choice_a

    def group(recs, choice) -> dict[tuple[str, str, str], list[Mapping[str, Any]]]:
        out: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
        for r in recs:
            inter = r["intermediate"] if choice is None else ""
            out.setdefault((r["target"], r["language"], inter), []).append(r)
        return out

    ga, gb = group(recs_a, choice_a), group(recs_b, choice_b)
    pairs: list[ComparePair] = []
    for key, of_a in ga.items():
        if key in gb:
            target, language, inter = key
            label = inter or f"{choice_a} -> {choice_b}"
            pairs.append((target, language, label, of_a, gb[key]))
    return pairs
