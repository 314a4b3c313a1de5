"""What a task kind is: how its records become encoder inputs, which head
reads the encoder's output, what the loss is, and how predictions are scored.

A *record* is one example as the kind knows it (canonical schemas below), read
from the hub or from local files by engine.data. A kind turns records into
*features*: rows of token ids (one row per encoder input) grouped into *units*
(what a batch is made of). Most kinds have one row per unit; multiple choice
has one row per choice, all choices of a question in one unit; extractive QA
cuts long contexts into several windows, each its own unit, mapped back to its
record for scoring.

Canonical records, per kind (the keys loaders produce):

    classification        {"texts": [text], "label": int}
    pair_classification   {"texts": [text_a, text_b], "label": int}
    multiple_choice       {"id": str, "context": str, "question": str,
                           "choices": [str, ...], "label": int}
    span_qa               {"id": str, "context": str, "question": str,
                           "answers": {"text": [str], "answer_start": [int]}}
                          (no answers: empty lists, SQuAD v2 style)
    tagging               {"tokens": [str], "tags": [int]}
    retrieval             {"id": str, "text": str}   one record per sentence of
                          one side; pairs come from the task's gold file

Heavy module (torch): imported only by the runner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn


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


def pad_rows(
    features: Features, rows: np.ndarray, pad_id: int, pad_to_multiple: int = 1
) -> dict[str, torch.Tensor]:
    """input_ids / attention_mask (/ token_type_ids) for the given rows, padded
    to the longest; token arrays padded alongside (with -100, ignored by losses)."""
    lengths = features.row_lengths[rows]
    width = int(lengths.max())
    if pad_to_multiple > 1:
        width = -(-width // pad_to_multiple) * pad_to_multiple
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    types = None if features.flat_type_ids is None else np.zeros_like(ids)
    token = {
        k: np.full((len(rows), width), -100, dtype=np.int64)
        for k in features.token_arrays
    }
    for j, r in enumerate(rows):
        start, end = features.offsets[r], features.offsets[r + 1]
        n = end - start
        ids[j, :n] = features.flat_ids[start:end]
        mask[j, :n] = 1
        if types is not None:
            types[j, :n] = features.flat_type_ids[start:end]
        for k, arr in features.token_arrays.items():
            token[k][j, :n] = arr[start:end]
    batch = {
        "input_ids": torch.from_numpy(ids),
        "attention_mask": torch.from_numpy(mask),
    }
    if types is not None:
        batch["token_type_ids"] = torch.from_numpy(types)
    for k, v in token.items():
        batch[f"token.{k}"] = torch.from_numpy(v)
    return batch


class Kind:
    """One task kind. Subclasses set `name` and fill in the methods."""

    name: str = ""
    version: str = "1"  # bump when featurize changes what it produces
    needs_training_data: bool = True  # retrieval has none
    scores_with_records: bool = False  # QA needs contexts and answers to score

    # -- data -> features ---------------------------------------------------
    def featurize(
        self, tokenizer, records: list[dict], task, max_length: int, stride: int
    ) -> Features:
        raise NotImplementedError

    def collate(
        self, features: Features, units: np.ndarray, pad_id: int, pad_to_multiple: int
    ) -> dict[str, torch.Tensor]:
        """The encoder inputs of these units plus their targets (unit arrays
        under their own names, token arrays as `token.<name>`)."""
        batch = pad_rows(features, features.rows_of(units), pad_id, pad_to_multiple)
        for k, v in features.unit_arrays.items():
            batch[k] = torch.from_numpy(np.asarray(v[units]))
        return batch

    # -- model ----------------------------------------------------------------
    def make_head(
        self, hidden_size: int, task, dropout: float, pooling: str
    ) -> nn.Module:
        """A module called as head(hidden_states, batch) -> outputs."""
        raise NotImplementedError

    def loss(self, outputs: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def gather(self, outputs: Any, batch: dict[str, torch.Tensor]) -> dict[str, Any]:
        """What scoring needs from one batch's outputs, moved to the CPU."""
        raise NotImplementedError

    # -- scoring --------------------------------------------------------------
    def score(
        self,
        gathered: dict[str, np.ndarray],
        features: Features,
        records: list[dict],
        task,
        language: str,
    ) -> dict[str, float]:
        """Metrics of predictions over a whole split. `gathered` holds the
        concatenated `gather` outputs in unit order. The first key is the
        primary metric (model selection, the stored result)."""
        raise NotImplementedError
