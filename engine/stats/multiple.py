"""Corrections for many comparisons in one table.

Holm 1979 ("A Simple Sequentially Rejective Multiple Test Procedure") controls
the family-wise error rate; Benjamini & Hochberg 1995 ("Controlling the False
Discovery Rate") controls the false discovery rate. Both return adjusted
p-values (the step-down/step-up forms, as R's p.adjust and statsmodels'
multipletests compute them), to compare against alpha directly. NaN p-values
(no comparison possible) stay NaN and do not count in m.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.errors import InputError, did_you_mean

CORRECTIONS = ("holm", "bh", "none")


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = valid.size
    if m == 0:
        return out
    order = valid[np.argsort(p[valid], kind="stable")]
    scaled = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out


def benjamini_hochberg(p_values: Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg step-up adjusted p-values (q-values)."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = valid.size
    if m == 0:
        return out
    order = valid[np.argsort(p[valid], kind="stable")]
    scaled = m / np.arange(1, m + 1) * p[order]
    out[order] = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    return out


def adjust(p_values: Sequence[float], method: str) -> np.ndarray:
    """Adjusted p-values by `method`: "holm", "bh" or "none"."""
    if method == "holm":
        return holm(p_values)
    if method == "bh":
        return benjamini_hochberg(p_values)
    if method == "none":
        return np.asarray(p_values, dtype=np.float64).copy()
    raise InputError(
        f"unknown multiple-comparison correction {method!r}"
        f"{did_you_mean(method, CORRECTIONS)}"
        f" (expected one of: {', '.join(CORRECTIONS)})"
    )
