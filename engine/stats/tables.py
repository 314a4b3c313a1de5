"""Per-example tables -> aligned column matrices.

A table is anything with `ids` (stable example ids) and numeric columns, read
as `table.columns[name]` when it has a `columns` mapping, else `table[name]`
(engine/predictions.py's reader returns such tables). Two systems are paired
by id: the examples every table has, in the first table's order; an example
only one system was scored on cannot be paired and is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from engine.errors import InputError
from engine.stats.bootstrap import DEFAULT_RESAMPLES, CellSamples, bootstrap_cell
from engine.stats.reducers import reducer


class ExampleTableLike(Protocol):
    ids: Any


def column(table: Any, name: str) -> np.ndarray:
    source = table.columns if hasattr(table, "columns") else table
    try:
        return np.asarray(source[name], dtype=np.float64)
    except KeyError:
        have = ", ".join(source.keys()) if hasattr(source, "keys") else "?"
        raise InputError(
            f"per-example table has no column {name!r} (have: {have})"
        ) from None


def shared_ids(tables: Sequence[ExampleTableLike]) -> list[str]:
    """Ids present in every table, in the first table's order."""
    if not tables:
        return []
    common = set(map(str, tables[0].ids))
    for table in tables[1:]:
        common &= set(map(str, table.ids))
    return [i for i in map(str, tables[0].ids) if i in common]


def aligned_columns(
    tables: Mapping[str, Sequence[ExampleTableLike]], names: Sequence[str]
) -> tuple[list[str], dict[str, list[dict[str, np.ndarray]]]]:
    """(shared ids, system -> per-seed {column: values in that id order}).

    `tables` maps a system (e.g. "baseline", an intermediate task) to its
    tables, one per seed."""
    everything = [t for per_seed in tables.values() for t in per_seed]
    ids = shared_ids(everything)
    if not ids:
        raise InputError("the per-example tables share no example id: nothing to pair")
    out: dict[str, list[dict[str, np.ndarray]]] = {}
    for system, per_seed in tables.items():
        out[system] = []
        for table in per_seed:
            position = {str(i): k for k, i in enumerate(table.ids)}
            take = np.fromiter(
                (position[i] for i in ids), dtype=np.intp, count=len(ids)
            )
            out[system].append({name: column(table, name)[take] for name in names})
    return ids, out


def bootstrap_tables(
    tables: Mapping[str, Sequence[ExampleTableLike]],
    metrics: Mapping[str, str],
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    key: Sequence[str] = (),
) -> dict[str, CellSamples]:
    """`bootstrap_cell` on per-example tables: pair them by id first.
    `tables`: system -> its tables, one per seed; `metrics`: metric ->
    reducer name (the prediction file header's "metrics")."""
    needed = sorted({c for m, r in metrics.items() for c in reducer(r).columns(m)})
    _, columns = aligned_columns(tables, needed)
    return bootstrap_cell(columns, metrics, n_resamples=n_resamples, seed=seed, key=key)
