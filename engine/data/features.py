"""Features: a split as token-id rows grouped into units, plus per-unit and
per-token arrays. What a kind's `featurize` returns, what the tokenize cache
stores (numpy arrays, no pickle) and what the training loop batches.

Light module (numpy only): it sits in the data layer so the cache, the kinds
and the training loop can all reach it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Features:
    """Token-id rows of one split, and per-unit / per-token arrays.

    `flat_ids[offsets[r]:offsets[r+1]]` are the ids of row r; a unit u holds
    rows `u*rows_per_unit ... (u+1)*rows_per_unit - 1`. `unit_arrays` have one
    entry per unit (labels, start/end positions, the record a unit came from);
    `token_arrays` one entry per token, aligned with `flat_ids` (tag labels,
    character offsets)."""

    flat_ids: np.ndarray
    offsets: np.ndarray
    rows_per_unit: int = 1
    flat_type_ids: np.ndarray | None = None
    unit_arrays: dict[str, np.ndarray] = field(default_factory=dict)
    token_arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return (len(self.offsets) - 1) // self.rows_per_unit

    @property
    def row_lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def unit_lengths(self) -> np.ndarray:
        """Longest row of each unit: what padding a batch of units costs."""
        return self.row_lengths.reshape(-1, self.rows_per_unit).max(axis=1)

    @property
    def unit_tokens(self) -> np.ndarray:
        """Non-padding tokens of each unit (throughput counts these)."""
        return self.row_lengths.reshape(-1, self.rows_per_unit).sum(axis=1)

    def rows_of(self, units: np.ndarray) -> np.ndarray:
        k = self.rows_per_unit
        return (units[:, None] * k + np.arange(k)[None, :]).reshape(-1)

    def head(self, n: int) -> Features:
        """The first n units (for max_train_examples / max_eval_examples)."""
        if n >= len(self):
            return self
        rows = n * self.rows_per_unit
        end = int(self.offsets[rows])
        return Features(
            self.flat_ids[:end],
            self.offsets[: rows + 1],
            self.rows_per_unit,
            None if self.flat_type_ids is None else self.flat_type_ids[:end],
            {k: v[:n] for k, v in self.unit_arrays.items()},
            {k: v[:end] for k, v in self.token_arrays.items()},
        )

    # -- cache --------------------------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        out = {
            "flat_ids": self.flat_ids,
            "offsets": self.offsets,
            "rows_per_unit": np.array(self.rows_per_unit),
        }
        if self.flat_type_ids is not None:
            out["flat_type_ids"] = self.flat_type_ids
        out.update({f"unit.{k}": v for k, v in self.unit_arrays.items()})
        out.update({f"token.{k}": v for k, v in self.token_arrays.items()})
        return out

    @classmethod
    def from_arrays(cls, z) -> Features:
        return cls(
            z["flat_ids"],
            z["offsets"],
            int(z["rows_per_unit"]),
            z["flat_type_ids"] if "flat_type_ids" in z else None,
            {k[5:]: z[k] for k in z if k.startswith("unit.")},
            {k[6:]: z[k] for k in z if k.startswith("token.")},
        )


def ragged(rows: list[list[int]], dtype=np.int32) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ints as one flat array plus offsets."""
    lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.fromiter(
        (t for r in rows for t in r), dtype=dtype, count=int(offsets[-1])
    )
    return flat, offsets
