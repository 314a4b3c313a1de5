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

from typing import Any

import numpy as np
import torch
from torch import nn

from engine.data.features import Features


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
