"""Bootstrap resampling as column sums: counts @ columns.

A bootstrap resample of n examples is a vector of multinomial counts (how
often each example was drawn); the resample's column sums are then one matrix
product, counts (R x n) @ columns (n x k), for every system and column at
once. The counts come from n uniform draws per resample histogrammed with
`np.bincount`, a few resamples at a time so the histogram stays in cache and
memory stays bounded (about `_CHUNK_ELEMENTS` counts in flight, whatever R
and n are: 1,000 x 100k needs no 800 MB matrix).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext

import numpy as np

try:
    # One BLAS thread for the products: they are small and many, and on a busy
    # machine OpenBLAS's spinning threads made the XTREME grid benchmark 2x
    # slower in wall time and 2.4x in CPU time (benchmarks/significance.py).
    # threadpoolctl comes with scikit-learn, which seqeval requires.
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - without it BLAS keeps its default
    threadpool_limits = None

# Counts histogrammed at a time: small enough that bincount's random
# increments hit cache (~9 ns per draw here; ~3x slower with one huge chunk).
_CHUNK_ELEMENTS = 1 << 17
# Counts per matrix product: a product with few rows runs far below BLAS
# speed (13 x 10k @ 10k x 33 was 50x slower per row than 256 rows with
# OpenBLAS threads on a loaded 2-core machine), so histograms are gathered
# into blocks of up to 256 resamples, at most 32 MB of float64 counts.
_BLOCK_ROWS = 256
_BLOCK_ELEMENTS = 1 << 22


def resample_indices(
    n: int, n_resamples: int, rng: np.random.Generator
) -> Iterator[np.ndarray]:
    """The resampled example indices, a few resamples (rows) at a time: the
    draws `resampled_sums` uses, in its order, for a slow reference."""
    chunk = max(1, min(n_resamples, _CHUNK_ELEMENTS // n))
    draw_type = np.uint16 if n <= 1 << 16 else np.int64
    for start in range(0, n_resamples, chunk):
        rows = min(chunk, n_resamples - start)
        yield rng.integers(0, n, size=(rows, n), dtype=draw_type)


def resampled_sums(
    columns: np.ndarray, n_resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """Column sums of `n_resamples` bootstrap resamples of the rows of
    `columns` (n x k): an (n_resamples x k) float64 array."""
    n = columns.shape[0]
    if n == 0:
        raise ValueError("cannot resample an empty table")
    values = np.asarray(columns, dtype=np.float64)
    out = np.empty((n_resamples, values.shape[1]))
    chunk = max(1, min(n_resamples, _CHUNK_ELEMENTS // n))
    block = max(chunk, min(_BLOCK_ROWS, _BLOCK_ELEMENTS // n) // chunk * chunk)
    counts = np.empty((min(block, n_resamples), n))
    offsets = (np.arange(chunk, dtype=np.intp) * n)[:, None]
    done = filled = 0
    limit = (
        threadpool_limits(1, user_api="blas") if threadpool_limits else nullcontext()
    )
    with limit:
        for draws in resample_indices(n, n_resamples, rng):
            rows = draws.shape[0]
            histogram = np.bincount(
                (draws + offsets[:rows]).ravel(), minlength=rows * n
            )
            counts[filled : filled + rows] = histogram.reshape(rows, n)
            filled += rows
            if filled == counts.shape[0] or done + filled == n_resamples:
                out[done : done + filled] = counts[:filled] @ values
                done += filled
                filled = 0
    return out


def resample_seeds(
    n_seeds: int, n_resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """Which seeds each resample uses (n_resamples x n_seeds, with
    replacement): the first level of the two-level bootstrap."""
    return rng.integers(0, n_seeds, size=(n_resamples, n_seeds))
