"""Sentence and sentence-pair classification: one pooled vector per input, a
label per example, accuracy."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from engine.data.features import Features, ragged
from engine.kinds.base import Kind
from engine.kinds.targets import TrainThenEvaluate
from engine.predictions import PredictionTable, example_ids

_CHUNK = 1000


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: str):
    """'first': the [CLS]/<s> vector; 'mean': the mean over real tokens."""
    if pooling == "first":
        return hidden[:, 0]
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


class ClassificationHead(nn.Module):
    """Dense + tanh + projection over a pooled vector (as RoBERTa's)."""

    def __init__(self, hidden_size: int, num_labels: int, dropout: float, pooling):
        super().__init__()
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.out_proj = nn.Linear(hidden_size, num_labels)

    def forward(self, hidden: torch.Tensor, batch: dict) -> torch.Tensor:
        pooled = pool(hidden, batch["attention_mask"], self.pooling)
        x = torch.tanh(self.dense(self.dropout(pooled)))
        return self.out_proj(self.dropout(x))


def encode_texts(tokenizer, texts: list[tuple[str, ...]], max_length: int):
    """Token ids (and type ids, if the tokenizer has them) of single texts or
    pairs, truncated together to max_length."""
    ids: list[list[int]] = []
    type_ids: list[list[int]] | None = []
    for start in range(0, len(texts), _CHUNK):
        columns = list(zip(*texts[start : start + _CHUNK], strict=True))
        enc = tokenizer(
            list(columns[0]),
            list(columns[1]) if len(columns) > 1 else None,
            truncation=True,
            max_length=max_length,
        )
        ids.extend(enc["input_ids"])
        if "token_type_ids" in enc and type_ids is not None:
            type_ids.extend(enc["token_type_ids"])
        else:
            type_ids = None
    flat, offsets = ragged(ids)
    flat_types = ragged(type_ids, np.int8)[0] if type_ids else None
    return flat, offsets, flat_types


class ClassificationKind(Kind):
    target = TrainThenEvaluate()  # English training, best step, zero-shot

    def __init__(self, name: str):
        self.name = name

    def featurize(self, tokenizer, records, task, max_length, stride) -> Features:
        flat, offsets, types = encode_texts(
            tokenizer, [tuple(r["texts"]) for r in records], max_length
        )
        labels = np.array([r["label"] for r in records], dtype=np.int64)
        return Features(flat, offsets, 1, types, {"labels": labels})

    def make_head(self, hidden_size, task, dropout, pooling) -> nn.Module:
        return ClassificationHead(hidden_size, len(task.labels), dropout, pooling)

    def loss(self, outputs, batch) -> torch.Tensor:
        return nn.functional.cross_entropy(outputs.float(), batch["labels"])

    def gather(self, outputs, batch) -> dict:
        return {"prediction": outputs.argmax(-1).cpu().numpy()}

    def score(self, gathered, features, records, task, language) -> dict[str, float]:
        labels = features.unit_arrays["labels"]
        return {"accuracy": float((gathered["prediction"] == labels).mean())}

    def predictions(self, gathered, features, records, task, language):
        return label_predictions(gathered, features, records, task, language)


def label_predictions(
    gathered, features: Features, records, task, language: str
) -> PredictionTable:
    """One row per example: predicted and gold label (names where the task
    has them, else indices) and accuracy 0/1, on the fraction scale `score`
    stores. Ids: the records' own, else "<language>-<row index>" (XNLI and
    PAWS-X rows have none)."""
    labels = features.unit_arrays["labels"]
    predicted = gathered["prediction"]
    names = list(task.labels) if len(task.labels) > 1 else None

    def shown(index) -> str | int:
        return names[int(index)] if names else int(index)

    ids = example_ids(records, language, len(labels))
    rows = [
        {
            "id": ids[i],
            "prediction": shown(p),
            "gold": shown(y),
            "accuracy": int(p == y),
        }
        for i, (p, y) in enumerate(zip(predicted, labels, strict=True))
    ]
    return PredictionTable({"accuracy": "mean"}, rows, labels=names)


SENTENCE = ClassificationKind("classification")
PAIR = ClassificationKind("pair_classification")
