"""Paired bootstrap of a metric for several systems on the same examples.

One cell (target, language) holds every system to compare: the baseline and
each intermediate choice, each with one or more seeds. Every system's corpus
metric is recomputed on the SAME resampled examples (Koehn 2004, section 4;
sacrebleu's --paired-bs), so a delta's distribution reflects only how the
systems differ on the examples. Sharing the resamples across all intermediate
choices of a cell costs one draw per cell and leaves each pairwise test an
ordinary paired bootstrap.

Several seeds: a two-level bootstrap, seeds first, then examples. Each
resample draws, per system and independently, as many seeds as it has, with
replacement, and averages the metric of those seeds on the resampled examples
(the reported score is the mean over seeds). Seeds of different systems are
different training runs, not pairs, so they are not resampled together; the
examples are. Disagreeing seeds widen the interval; one seed reduces to the
plain paired bootstrap.

Aggregates (a target's average over languages, an XTREME task score, (EM +
F1) / 2) are means of cells, taken resample by resample (`mean_of`): each
language is resampled independently, A and B share indices within a language.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from engine.stats.intervals import percentile_interval, shifted_null_p
from engine.stats.multiple import adjust
from engine.stats.reducers import Reducer
from engine.stats.reducers import reducer as find_reducer
from engine.stats.resample import resample_seeds, resampled_sums

DEFAULT_RESAMPLES = 1000
"""As Koehn 2004 (1,000 samples) and sacrebleu's paired bootstrap default."""
DEFAULT_CONFIDENCE = 0.95
DEFAULT_ALPHA = 0.05
METHOD = "paired bootstrap, percentile interval, shifted-null two-sided p"

SeedColumns = Sequence[Mapping[str, np.ndarray]]
"""One system's per-example columns, one mapping per seed, rows aligned."""


@dataclass(frozen=True)
class CellSamples:
    """Point values and bootstrap samples of one metric for several systems."""

    systems: tuple[str, ...]
    point: np.ndarray
    """(n_systems,) the metric on the examples as they are (mean over seeds)."""
    samples: np.ndarray
    """(n_systems, n_resamples) the metric on each resample."""
    n_examples: int
    n_seeds: dict[str, int]
    seed: int

    @property
    def n_resamples(self) -> int:
        return int(self.samples.shape[1])

    def index(self, system: str) -> int:
        try:
            return self.systems.index(system)
        except ValueError:
            raise KeyError(
                f"no system {system!r} (have: {', '.join(self.systems)})"
            ) from None


@dataclass(frozen=True)
class PairedResult:
    """One system against the baseline: what a table cell shows. Deltas and
    values are on the stored scale (fractions; views show them x100)."""

    system: str
    baseline: str
    delta: float
    low: float
    high: float
    p: float
    p_adjusted: float
    significant: bool
    """p_adjusted < alpha."""
    system_value: float
    baseline_value: float
    n_examples: int
    n_resamples: int
    n_seeds: int
    seed: int
    confidence: float
    alpha: float
    correction: str
    """"holm", "bh" or "none": what p_adjusted applies."""
    method: str = METHOD

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def cell_rng(seed: int, *key: str) -> np.random.Generator:
    """A generator for one cell that depends on the seed and the cell's key
    only, so a cell's resamples do not change with the order cells are run."""
    words = [seed, *(zlib.crc32(part.encode()) for part in key)]
    return np.random.default_rng(np.random.SeedSequence(words))


def bootstrap_cell(
    systems: Mapping[str, SeedColumns],
    metrics: Mapping[str, str],
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    key: Sequence[str] = (),
) -> dict[str, CellSamples]:
    """Bootstrap every metric of `metrics` (name -> reducer name) for every
    system on one set of resampled examples. Returns metric -> CellSamples."""
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    names = list(systems)
    reducers = {m: find_reducer(r) for m, r in metrics.items()}
    needed = sorted({c for m, r in reducers.items() for c in r.columns(m)})
    matrix, first_column = _stack(systems, needed)
    n = matrix.shape[0]
    rng = cell_rng(seed, *key)
    sums = resampled_sums(matrix, n_resamples, rng)
    full = matrix.sum(axis=0)[None, :]
    out = {}
    per_resample = {m: np.empty((len(names), n_resamples)) for m in reducers}
    point = {m: np.empty(len(names)) for m in reducers}
    for i, system in enumerate(names):
        n_seeds = len(systems[system])
        # Drawn after the examples, so one seed leaves the example draws as
        # they are without seeds.
        seeds = resample_seeds(n_seeds, n_resamples, rng) if n_seeds > 1 else None
        for metric, red in reducers.items():
            starts = [first_column[system, s] for s in range(n_seeds)]
            per_seed = np.stack(
                [_reduce(red, metric, sums, start, needed, n) for start in starts], 1
            )
            point[metric][i] = np.mean(
                [_reduce(red, metric, full, start, needed, n)[0] for start in starts]
            )
            if seeds is not None:
                per_seed = np.take_along_axis(per_seed, seeds, axis=1)
            per_resample[metric][i] = per_seed.mean(axis=1)
    for metric in reducers:
        out[metric] = CellSamples(
            systems=tuple(names),
            point=point[metric],
            samples=per_resample[metric],
            n_examples=n,
            n_seeds={system: len(systems[system]) for system in names},
            seed=seed,
        )
    return out


def _reduce(
    red: Reducer,
    metric: str,
    sums: np.ndarray,
    start: int,
    needed: Sequence[str],
    n: int,
) -> np.ndarray:
    """`metric` per row of `sums` from one (system, seed)'s block of columns."""
    picked = {c: sums[:, start + needed.index(c)] for c in red.columns(metric)}
    return red.reduce(picked, np.full(len(sums), float(n)), metric)


def _stack(
    systems: Mapping[str, SeedColumns], needed: Sequence[str]
) -> tuple[np.ndarray, dict[tuple[str, int], int]]:
    """Every (system, seed)'s needed columns side by side (n x columns), and
    where each (system, seed)'s block starts."""
    blocks: list[np.ndarray] = []
    first_column: dict[tuple[str, int], int] = {}
    for system, per_seed in systems.items():
        if not per_seed:
            raise ValueError(f"system {system!r} has no seeds")
        for s, columns in enumerate(per_seed):
            missing = [c for c in needed if c not in columns]
            if missing:
                raise ValueError(
                    f"system {system!r} seed {s}: no column {', '.join(missing)} "
                    f"(have: {', '.join(columns)})"
                )
            block = np.column_stack([np.asarray(columns[c], float) for c in needed])
            if blocks and block.shape[0] != blocks[0].shape[0]:
                raise ValueError(
                    f"system {system!r} seed {s}: {block.shape[0]} examples, "
                    f"expected {blocks[0].shape[0]} (align tables by id first)"
                )
            first_column[system, s] = len(blocks) * len(needed)
            blocks.append(block)
    return np.hstack(blocks), first_column


def mean_of(parts: Sequence[CellSamples], n_examples: int | None = None) -> CellSamples:
    """The resample-by-resample mean of cells with the same systems: a
    per-target average over languages, a task score, (EM + F1) / 2.
    `n_examples` defaults to the parts' total (pass one cell's count when
    the parts are metrics of the same examples)."""
    if not parts:
        raise ValueError("nothing to average")
    first = parts[0]
    for part in parts[1:]:
        if part.systems != first.systems or part.n_resamples != first.n_resamples:
            raise ValueError(
                "cells to average must have the same systems and resamples"
            )
    return CellSamples(
        systems=first.systems,
        point=np.mean([p.point for p in parts], axis=0),
        samples=np.mean([p.samples for p in parts], axis=0),
        n_examples=sum(p.n_examples for p in parts)
        if n_examples is None
        else n_examples,
        n_seeds={s: max(p.n_seeds[s] for p in parts) for s in first.systems},
        seed=first.seed,
    )


def compare(
    cell: CellSamples,
    baseline: str = "baseline",
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    alpha: float = DEFAULT_ALPHA,
) -> dict[str, PairedResult]:
    """Every other system of `cell` against `baseline` (uncorrected p)."""
    a = cell.index(baseline)
    results = {}
    for b, system in enumerate(cell.systems):
        if b == a:
            continue
        deltas = cell.samples[b] - cell.samples[a]
        delta = float(cell.point[b] - cell.point[a])
        low, high = percentile_interval(deltas, confidence)
        p = shifted_null_p(deltas, delta)
        results[system] = PairedResult(
            system=system,
            baseline=baseline,
            delta=delta,
            low=low,
            high=high,
            p=p,
            p_adjusted=p,
            significant=p < alpha,
            system_value=float(cell.point[b]),
            baseline_value=float(cell.point[a]),
            n_examples=cell.n_examples,
            n_resamples=cell.n_resamples,
            n_seeds=max(cell.n_seeds[system], cell.n_seeds[baseline]),
            seed=cell.seed,
            confidence=confidence,
            alpha=alpha,
            correction="none",
        )
    return results


def correct(
    results: Mapping[tuple, PairedResult],
    method: str = "holm",
    alpha: float = DEFAULT_ALPHA,
) -> dict[tuple, PairedResult]:
    """Adjust the p-values of one table's results together (`method`: "holm",
    "bh" or "none") and mark what stays significant at `alpha`."""
    keys = list(results)
    adjusted = adjust([results[k].p for k in keys], method)
    return {
        k: replace(
            results[k],
            p_adjusted=float(q),
            significant=bool(q < alpha),
            alpha=alpha,
            correction=method,
        )
        for k, q in zip(keys, adjusted, strict=True)
    }


def compare_table(
    cells: Mapping[tuple, CellSamples],
    baseline: str = "baseline",
    *,
    correction: str = "holm",
    confidence: float = DEFAULT_CONFIDENCE,
    alpha: float = DEFAULT_ALPHA,
) -> dict[tuple, PairedResult]:
    """Compare every cell of a table against the baseline and correct over
    the whole table. Keys: (*cell key, system)."""
    raw = {
        (*key, system): result
        for key, cell in cells.items()
        for system, result in compare(
            cell, baseline, confidence=confidence, alpha=alpha
        ).items()
    }
    return correct(raw, correction, alpha)
