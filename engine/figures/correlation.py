"""Pearson and Spearman correlation of two equally long samples, without
numpy or scipy (a figure's title needs two numbers, not a stats stack).

Spearman's rho is Pearson's r of the ranks, ties given their average rank
(the textbook definition, as scipy.stats.spearmanr computes it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

# Fewer points than this: the correlation is shown, with a warning that it
# says little. A convention, not a test: with n < 10 even |r| = 0.6 is not
# significant at the 5% level (two-sided t-test on r, df = n - 2).
FEW_POINTS = 10


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """r, or None when undefined (fewer than 3 points, or a constant sample:
    with 2 points r is always ±1 and says nothing)."""
    if len(xs) != len(ys):
        raise ValueError(f"pearson: {len(xs)} x values but {len(ys)} y values")
    n = len(xs)
    if n < 3:
        return None
    mx, my = math.fsum(xs) / n, math.fsum(ys) / n
    sxy = math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = math.fsum((x - mx) ** 2 for x in xs)
    syy = math.fsum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


def ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks; tied values share the mean of the ranks they span."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    if len(xs) != len(ys):
        raise ValueError(f"spearman: {len(xs)} x values but {len(ys)} y values")
    return pearson(ranks(xs), ranks(ys))
