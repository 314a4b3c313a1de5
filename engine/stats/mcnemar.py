"""McNemar's exact test for paired binary outcomes (e.g. per-problem pass).

Only the discordant pairs matter: b = A right / B wrong, c = A wrong / B
right. Under H0 each discordant pair goes either way with probability 1/2, so
min(b, c) ~ Binomial(b + c, 1/2); the two-sided exact p-value is
min(1, 2 * P(X <= min(b, c))) (McNemar 1947; the exact form as in
statsmodels' `mcnemar(exact=True)` and Fagerland et al. 2013, "The McNemar
test for binary matched-pairs data").
"""

from __future__ import annotations

import math

import numpy as np


def discordant_counts(a_correct: np.ndarray, b_correct: np.ndarray) -> tuple[int, int]:
    """(b, c): pairs only A got right, pairs only B got right."""
    a = np.asarray(a_correct).astype(bool)
    b = np.asarray(b_correct).astype(bool)
    if a.shape != b.shape:
        raise ValueError(f"paired outcomes differ in shape: {a.shape} vs {b.shape}")
    return int(np.count_nonzero(a & ~b)), int(np.count_nonzero(~a & b))


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value from the two discordant counts."""
    if only_a < 0 or only_b < 0:
        raise ValueError("discordant counts must be >= 0")
    n = only_a + only_b
    if n == 0:
        return 1.0
    k = min(only_a, only_b)
    # log-space binomial terms: exact enough and no overflow for large n.
    log_terms = [
        math.lgamma(n + 1)
        - math.lgamma(i + 1)
        - math.lgamma(n - i + 1)
        - n * math.log(2)
        for i in range(k + 1)
    ]
    top = max(log_terms)
    tail = math.exp(top) * sum(math.exp(t - top) for t in log_terms)
    return min(1.0, 2 * tail)
