"""Paired bootstrap over a whole XTREME grid: is it fast enough to run on
every `results --ci`?

Issue 13's target: 1,000 resamples for 10 intermediate choices (each against
the baseline) x the 9 XTREME targets x all their languages, on synthetic
per-example predictions of realistic sizes, in under 10 s on this machine.

Sizes (test examples per language): XNLI 5,010 x 15; PAWS-X 2,000 x 7; UD-POS
~1,000 sentences x 33 (f1_counts per sentence); PAN-X 10,000 for most of its
40 languages, 1,000 or 100 for the small ones (f1_counts per sentence);
XQuAD 1,190 x 11; MLQA 4,500-11,600 x 7 (exact_match and f1 per question);
TyDiQA-GoldP 100-1,000 x 9; BUCC f1_counts per source sentence, ~1,900-14,400
x 4; Tatoeba 1,000 x 36. One seed per system.

Run: .venv/bin/python benchmarks/significance.py [--resamples 1000] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.metrics.xtreme import TASK_LANGUAGES  # noqa: E402
from engine.stats.bootstrap import bootstrap_cell, compare_table, mean_of  # noqa: E402

TARGET_SECONDS = 10.0
N_INTERMEDIATES = 10

# (reducer, metrics) per target; QA tasks score (EM + F1) / 2 as XTREME.
TARGETS = {
    "xnli": "accuracy",
    "pawsx": "accuracy",
    "udpos": "f1_counts",
    "panx": "f1_counts",
    "xquad": "qa",
    "mlqa": "qa",
    "tydiqa": "qa",
    "bucc2018": "f1_counts",
    "tatoeba": "accuracy",
}
MLQA_SIZES = {
    "en": 11590,
    "es": 5253,
    "de": 4517,
    "ar": 5335,
    "hi": 4918,
    "vi": 5495,
    "zh": 5137,
}
TYDIQA_SIZES = {
    "en": 440,
    "ar": 921,
    "bn": 113,
    "fi": 782,
    "id": 565,
    "ko": 276,
    "ru": 812,
    "sw": 499,
    "te": 669,
}
BUCC_SIZES = {"de": 9580, "fr": 9086, "ru": 14435, "zh": 1899}
PANX_SMALL = {
    "jv": 100,
    "yo": 100,
    "my": 100,
    "tl": 1000,
    "sw": 1000,
    "te": 1000,
    "mr": 1000,
    "ml": 1000,
    "kk": 1000,
    "ka": 1000,
    "ur": 1000,
    "bn": 1000,
}


def size(target: str, language: str) -> int:
    if target == "xnli":
        return 5010
    if target == "pawsx":
        return 2000
    if target == "udpos":
        return 1000
    if target == "panx":
        return PANX_SMALL.get(language, 10000)
    if target == "xquad":
        return 1190
    if target == "mlqa":
        return MLQA_SIZES[language]
    if target == "tydiqa":
        return TYDIQA_SIZES[language]
    if target == "bucc2018":
        return BUCC_SIZES[language]
    return 1000


def systems_for(
    kind: str, n: int, rng: np.random.Generator
) -> dict[str, list[dict[str, np.ndarray]]]:
    """The baseline and 10 intermediates, correlated as real systems are:
    each intermediate changes a random 0-15% of the baseline's outcomes."""
    names = ["baseline", *(f"inter{i}" for i in range(N_INTERMEDIATES))]
    out = {}
    if kind == "accuracy":
        base = (rng.random(n) < 0.75).astype(np.float64)
        for name in names:
            flip = rng.random(n) < rng.uniform(0, 0.15)
            out[name] = [
                {
                    "accuracy": np.where(flip, 1 - base, base)
                    if name != "baseline"
                    else base
                }
            ]
    elif kind == "f1_counts":
        gold = rng.poisson(3, n).astype(np.float64)
        for name in names:
            tp = rng.binomial(gold.astype(np.int64), rng.uniform(0.6, 0.9)).astype(
                np.float64
            )
            fp = rng.poisson(0.4, n).astype(np.float64)
            out[name] = [{"tp": tp, "fp": fp, "fn": gold - tp}]
    else:
        for name in names:
            f1 = np.clip(rng.beta(2, 0.8, n), 0, 1)
            out[name] = [{"exact_match": (f1 > 0.95).astype(np.float64), "f1": f1}]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(12345)
    t0 = time.perf_counter()
    data = {
        (target, language): systems_for(kind, size(target, language), rng)
        for target, kind in TARGETS.items()
        for language in TASK_LANGUAGES[target]
    }
    made = time.perf_counter() - t0
    n_examples = sum(
        len(next(iter(s.values()))[0][next(iter(next(iter(s.values()))[0]))])
        for s in data.values()
    )

    start, cpu_start = time.perf_counter(), time.process_time()
    tables = {}
    for target, kind in TARGETS.items():
        cells = {}
        for language in TASK_LANGUAGES[target]:
            systems = data[target, language]
            key = (target, language)
            if kind == "accuracy":
                cell = bootstrap_cell(
                    systems,
                    {"accuracy": "mean"},
                    n_resamples=args.resamples,
                    seed=args.seed,
                    key=key,
                )["accuracy"]
            elif kind == "f1_counts":
                cell = bootstrap_cell(
                    systems,
                    {"f1": "f1_counts"},
                    n_resamples=args.resamples,
                    seed=args.seed,
                    key=key,
                )["f1"]
            else:
                both = bootstrap_cell(
                    systems,
                    {"exact_match": "mean", "f1": "mean"},
                    n_resamples=args.resamples,
                    seed=args.seed,
                    key=key,
                )
                cell = mean_of(
                    [both["exact_match"], both["f1"]], n_examples=both["f1"].n_examples
                )
            cells[(language,)] = cell
        cells[("avg",)] = mean_of(list(cells.values()))
        tables[target] = compare_table(cells, correction="holm")
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start

    n_cells = sum(len(TASK_LANGUAGES[t]) for t in TARGETS)
    n_results = sum(len(t) for t in tables.values())
    significant = sum(r.significant for t in tables.values() for r in t.values())
    print(
        f"synthetic data: {n_cells} (target, language) cells, {n_examples:,} examples, "
        f"{N_INTERMEDIATES + 1} systems each (made in {made:.1f} s)"
    )
    print(
        f"paired bootstrap: {args.resamples} resamples, {n_results} comparisons "
        f"(incl. per-target averages), Holm per target, {significant} significant"
    )
    print(
        f"time: {elapsed:.2f} s wall, {cpu:.2f} s CPU "
        f"(target {TARGET_SECONDS:.0f} s: {elapsed / TARGET_SECONDS:.2f}x of it; "
        f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
