"""Batches with dynamic padding; length-grouped for training.

Length grouping: shuffle, cut into mega-batches of 50 batches, sort each by
length, cut into batches, shuffle the batch order. Batches hold examples of
similar length, so little compute is spent on padding, while the order stays
random from one batch to the next.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.data.tokenize import TokenizedSplit

MEGA_BATCH = 50


def length_grouped_batches(
    split: TokenizedSplit, batch_size: int, rng: np.random.Generator
) -> list[np.ndarray]:
    order = rng.permutation(len(split))
    lengths = split.lengths
    batches = []
    mega = batch_size * MEGA_BATCH
    for start in range(0, len(order), mega):
        group = order[start : start + mega]
        group = group[np.argsort(-lengths[group], kind="stable")]
        batches.extend(
            group[i : i + batch_size] for i in range(0, len(group), batch_size)
        )
    rng.shuffle(batches)
    return batches


def eval_batches(split: TokenizedSplit, batch_size: int) -> list[np.ndarray]:
    order = np.argsort(-split.lengths, kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def collate(
    split: TokenizedSplit, indices: np.ndarray, pad_id: int, pad_to_multiple: int = 1
) -> dict[str, torch.Tensor]:
    lengths = split.lengths[indices]
    width = int(lengths.max())
    if pad_to_multiple > 1:
        width = -(-width // pad_to_multiple) * pad_to_multiple
    ids = np.full((len(indices), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(indices), width), dtype=np.int64)
    types = None if split.flat_type_ids is None else np.zeros_like(ids)
    for row, i in enumerate(indices):
        n = lengths[row]
        ids[row, :n] = split.ids(i)
        mask[row, :n] = 1
        if types is not None:
            types[row, :n] = split.type_ids(i)
    batch = {
        "input_ids": torch.from_numpy(ids),
        "attention_mask": torch.from_numpy(mask),
        "labels": torch.from_numpy(split.labels[indices]),
    }
    if types is not None:
        batch["token_type_ids"] = torch.from_numpy(types)
    return batch
