"""Classification metrics over label indices."""

from __future__ import annotations

from collections.abc import Sequence


def accuracy(predictions: Sequence[int], labels: Sequence[int]) -> float:
    if len(predictions) != len(labels):
        raise ValueError("predictions and labels differ in length")
    if not labels:
        raise ValueError("no examples to score")
    return sum(
        int(p) == int(y) for p, y in zip(predictions, labels, strict=True)
    ) / len(labels)


def macro_f1(predictions: Sequence[int], labels: Sequence[int]) -> float:
    """Unweighted mean of per-class F1 over the classes present in either list."""
    classes = sorted(set(map(int, labels)) | set(map(int, predictions)))
    scores = []
    for c in classes:
        tp = sum(
            1 for p, y in zip(predictions, labels, strict=True) if p == c and y == c
        )
        fp = sum(
            1 for p, y in zip(predictions, labels, strict=True) if p == c and y != c
        )
        fn = sum(
            1 for p, y in zip(predictions, labels, strict=True) if p != c and y == c
        )
        denom = 2 * tp + fp + fn
        scores.append(2 * tp / denom if denom else 0.0)
    return sum(scores) / len(scores)
