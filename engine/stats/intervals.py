"""A bootstrap distribution of a difference -> interval and p-value.

Interval: the percentile interval (Efron & Tibshirani 1993, "An Introduction
to the Bootstrap", ch. 13), the one Koehn 2004 ("Statistical Significance
Tests for Machine Translation Evaluation", section 4) and sacrebleu's paired
bootstrap report; not BCa (no bias/acceleration correction).

p-value, two-sided, for H0 "no difference": the shifted-null bootstrap of
Berg-Kirkpatrick, Burkett & Klein 2012 ("An Empirical Investigation of
Statistical Significance in NLP", section 2.2): centre the resampled deltas
on 0 (subtract the observed delta) and count how often they are at least as
far from 0 as the observed delta, p = (1 + #{|d_r - d| >= |d|}) / (1 + R).
The paper states the one-sided form (d_r > 2d); this is its two-sided
version. The +1s (the usual Monte Carlo p-value, Davison & Hinkley 1997,
"Bootstrap Methods and their Application", ch. 4) keep p above 0 with a finite
number of resamples: with R = 1,000 the smallest p is 1/1001.
"""

from __future__ import annotations

import numpy as np


def percentile_interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    """The central `confidence` share of the bootstrap samples."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def shifted_null_p(samples: np.ndarray, observed: float) -> float:
    """Two-sided bootstrap p-value of `observed` under the shifted null."""
    # A hair of tolerance: deltas that equal the observed one up to float
    # rounding count as "as extreme" (identical systems then give p = 1).
    distance = np.abs(samples - observed)
    extreme = np.count_nonzero(distance >= abs(observed) - 1e-12)
    return float((1 + extreme) / (1 + samples.shape[0]))
