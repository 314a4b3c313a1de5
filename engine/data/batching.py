"""Which units go into which batch; length-grouped for training.

Length grouping: shuffle, cut into mega-batches of 50 batches, sort each by
length, cut into batches, shuffle the batch order. Batches hold units of
similar length, so little compute is spent on padding, while the order stays
random from one batch to the next. (Padding itself is the kind's collate.)
"""

from __future__ import annotations

import numpy as np

MEGA_BATCH = 50


def length_grouped_batches(
    lengths: np.ndarray, batch_size: int, rng: np.random.Generator
) -> list[np.ndarray]:
    order = rng.permutation(len(lengths))
    batches: list[np.ndarray] = []
    mega = batch_size * MEGA_BATCH
    for start in range(0, len(order), mega):
        group = order[start : start + mega]
        group = group[np.argsort(-lengths[group], kind="stable")]
        batches.extend(
            group[i : i + batch_size] for i in range(0, len(group), batch_size)
        )
    rng.shuffle(batches)
    return batches


def eval_batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    order = np.argsort(-lengths, kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
