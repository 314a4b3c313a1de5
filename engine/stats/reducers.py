"""How a metric's corpus value is rebuilt from per-example columns.

Every reducer works on column *sums* (one row per bootstrap resample), so a
corpus-level metric (span F1, BUCC F1, BLEU) is recomputed on each resample
from its summed sufficient statistics instead of being averaged per example.
The names are the ones the per-example prediction files declare in their
header (``"metrics": {metric: reducer}``).

Scale: xlt stores every score as a fraction in [0, 1] (engine/metrics/
registry.py), so F1 and BLEU come back as fractions; "mean" returns the mean
of the column as written (a 0/1 accuracy column gives a fraction).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from engine.errors import InputError, did_you_mean

Sums = Mapping[str, np.ndarray]
"""Column name -> summed values, one per resample (shape (R,))."""

BLEU_ORDER = 4
BLEU_COLUMNS = (
    *(f"match_{i}" for i in range(1, BLEU_ORDER + 1)),
    *(f"total_{i}" for i in range(1, BLEU_ORDER + 1)),
    "hyp_len",
    "ref_len",
)


@dataclass(frozen=True)
class Reducer:
    name: str
    columns: Callable[[str], tuple[str, ...]]
    """The columns it needs, given the metric's name."""
    reduce: Callable[[Sums, np.ndarray, str], np.ndarray]
    """(column sums, examples per resample, metric name) -> metric per resample."""
    description: str


def _mean(sums: Sums, n: np.ndarray, metric: str) -> np.ndarray:
    return sums[metric] / n


def _f1_counts(sums: Sums, n: np.ndarray, metric: str) -> np.ndarray:
    # Micro F1 from summed counts, 2tp / (2tp + fp + fn): seqeval's f1_score
    # (default micro average) and XTREME's BUCC F1; 0 when there is nothing
    # to count (seqeval's zero_division acts as 0).
    tp, fp, fn = sums["tp"], sums["fp"], sums["fn"]
    denominator = 2 * tp + fp + fn
    safe = np.where(denominator > 0, denominator, 1)
    return np.where(denominator > 0, 2 * tp / safe, 0.0)


def _ratio(
    numerator: str, denominator: str
) -> Callable[[Sums, np.ndarray, str], np.ndarray]:
    def reduce(sums: Sums, n: np.ndarray, metric: str) -> np.ndarray:
        total = sums[denominator]
        return np.where(total > 0, sums[numerator] / np.where(total > 0, total, 1), 0.0)

    return reduce


def _bleu(smooth: str) -> Callable[[Sums, np.ndarray, str], np.ndarray]:
    """Corpus BLEU from summed n-gram statistics, as sacrebleu's
    `BLEU.compute_bleu` (sacrebleu 2.x, metrics/bleu.py) computes it with
    max order 4, uniform weights, effective_order=False, and `smooth`:
    "exp" (sacrebleu's corpus_bleu default: NIST/mteval-v13a smoothing, the
    k-th order without a match gets precision 1 / (2^k * total)) or "none"
    (what CoNaLa/MCoNaLa's BLEU uses, engine/codeeval/bleu.py). Tokenisation
    happened when the statistics were written; it is not this function's."""

    def reduce(sums: Sums, n: np.ndarray, metric: str) -> np.ndarray:
        match = np.stack([sums[f"match_{i}"] for i in range(1, BLEU_ORDER + 1)], -1)
        total = np.stack([sums[f"total_{i}"] for i in range(1, BLEU_ORDER + 1)], -1)
        hyp, ref = sums["hyp_len"], sums["ref_len"]
        safe_hyp = np.where(hyp > 0, hyp, 1)
        brevity = np.where(hyp < ref, np.exp(1 - ref / safe_hyp), 1.0)
        brevity = np.where(hyp > 0, brevity, 0.0)
        safe_total = np.where(total > 0, total, 1)
        precision = match / safe_total
        if smooth == "exp":
            halvings = np.cumsum(match == 0, axis=-1)
            precision = np.where(
                match == 0, 1 / (2.0**halvings * safe_total), precision
            )
        # An order with no n-grams at all, or (unsmoothed) no match, makes
        # sacrebleu's log-sum -inf: the score is 0; so does no match at all.
        zero = (total == 0).any(-1) | (match.sum(-1) == 0)
        if smooth == "none":
            zero |= (match == 0).any(-1)
        with np.errstate(divide="ignore"):
            log_mean = np.log(np.where(precision > 0, precision, 1)).mean(-1)
        return np.where(zero, 0.0, brevity * np.exp(log_mean))

    return reduce


REDUCERS: dict[str, Reducer] = {
    reducer.name: reducer
    for reducer in (
        Reducer(
            "mean",
            lambda metric: (metric,),
            _mean,
            "mean of the per-example column named like the metric (accuracy 0/1, "
            "exact_match, f1 per question, pass@k per problem)",
        ),
        Reducer(
            "f1_counts",
            lambda metric: ("tp", "fp", "fn"),
            _f1_counts,
            "micro F1 = 2tp / (2tp + fp + fn) of summed counts (seqeval span F1, "
            "BUCC F1)",
        ),
        Reducer(
            "token_accuracy",
            lambda metric: ("correct", "tokens"),
            _ratio("correct", "tokens"),
            "summed correct tokens / summed tokens (token-level tagging accuracy)",
        ),
        Reducer(
            "bleu",
            lambda metric: BLEU_COLUMNS,
            _bleu("exp"),
            "corpus BLEU-4 from summed n-gram statistics, sacrebleu's default "
            "exp smoothing",
        ),
        Reducer(
            "bleu_unsmoothed",
            lambda metric: BLEU_COLUMNS,
            _bleu("none"),
            "corpus BLEU-4 from summed n-gram statistics, no smoothing (CoNaLa)",
        ),
    )
}


def reducer(name: str) -> Reducer:
    """The reducer called `name`; InputError naming the nearest one."""
    try:
        return REDUCERS[name]
    except KeyError:
        raise InputError(
            f"unknown metric reducer {name!r}{did_you_mean(name, REDUCERS)}"
            f" (known: {', '.join(REDUCERS)})"
        ) from None
