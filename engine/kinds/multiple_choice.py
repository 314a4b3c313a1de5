"""Multiple choice (HellaSwag, CommonsenseQA, Cosmos QA): one encoder input per
choice, one score per input, softmax over a question's choices.

Each choice is a pair, as in jiant and Hugging Face's run_swag: first segment
the context, second the question and the choice joined by a space (HellaSwag:
ctx_a, then ctx_b + ending). A record without a context (CommonsenseQA) is
the pair (question, choice). Truncation cuts the first segment only, so the
choices stay whole; a choice too long for that is cut with its context
(longest first). All choices of a record are one unit: a batch never splits a
question.

The head is jiant's for multiple choice on RoBERTa/XLM-R (the paper's set-up):
the classification head (pooled vector, dense, tanh, projection) with one
output, read per choice.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from engine.data.features import Features, ragged
from engine.errors import InputError
from engine.kinds.base import Kind
from engine.kinds.classification import ClassificationHead, label_predictions
from engine.kinds.targets import TrainThenEvaluate

_CHUNK = 1000


def choice_pairs(record: dict) -> list[tuple[str, str]]:
    """(first segment, second segment) of each choice of one record."""
    context = (record.get("context") or "").strip()
    question = (record.get("question") or "").strip()
    if not context:
        return [(question, choice) for choice in record["choices"]]
    return [
        (context, f"{question} {choice}" if question else choice)
        for choice in record["choices"]
    ]


def encode_pairs(tokenizer, pairs: list[tuple[str, str]], max_length: int):
    """Ids (and type ids when the tokenizer has them) of text pairs, the first
    text truncated; rows whose second text leaves no room for that are
    truncated longest-first instead."""
    pair_special = _pair_special_tokens(tokenizer)
    ids: list[list[int]] = []
    types: list[list[int]] | None = []
    for start in range(0, len(pairs), _CHUNK):
        chunk = pairs[start : start + _CHUNK]
        seconds = [second for _, second in chunk]
        second_lengths = [
            len(x) for x in tokenizer(seconds, add_special_tokens=False)["input_ids"]
        ]
        strategies = [
            "only_first" if n + pair_special < max_length else "longest_first"
            for n in second_lengths
        ]
        rows: dict[str, list] = {"input_ids": [None] * len(chunk)}
        for strategy in ("only_first", "longest_first"):
            picked = [i for i, s in enumerate(strategies) if s == strategy]
            if not picked:
                continue
            enc = _encode(tokenizer, [chunk[i] for i in picked], max_length, strategy)
            for key, values in enc.items():
                column = rows.setdefault(key, [None] * len(chunk))
                for i, value in zip(picked, values, strict=True):
                    column[i] = value
        ids.extend(rows["input_ids"])
        if "token_type_ids" in rows and types is not None:
            types.extend(rows["token_type_ids"])
        else:
            types = None
    flat, offsets = ragged(ids)
    flat_types = ragged(types, np.int8)[0] if types else None
    return flat, offsets, flat_types


def _pair_special_tokens(tokenizer) -> int:
    """How many special tokens the tokenizer adds to a pair."""
    bare = sum(
        len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in ("a", "b")
    )
    return len(tokenizer("a", "b")["input_ids"]) - bare


def _encode(tokenizer, pairs, max_length, truncation) -> dict[str, list]:
    firsts = [first for first, _ in pairs]
    seconds = [second for _, second in pairs]
    enc = tokenizer(firsts, seconds, truncation=truncation, max_length=max_length)
    return {k: list(v) for k, v in enc.items() if k in ("input_ids", "token_type_ids")}


def number_of_choices(records: list[dict], task) -> int:
    """The task's fixed number of choices: its label count when it names one
    per choice, else the first record's."""
    if task.labels and len(task.labels) > 1:
        return len(task.labels)
    if records:
        return len(records[0]["choices"])
    return 0


def check_record(record: dict, index: int, n_choices: int, task) -> int:
    where = f"{task.name}: record {index}"
    if "id" in record:
        where += f" (id {record['id']!r})"
    choices = record.get("choices")
    if not isinstance(choices, list | tuple):
        raise InputError(f"{where}: expected a list under 'choices'")
    if len(choices) != n_choices:
        raise InputError(
            f"{where} has {len(choices)} choices; every question of this task "
            f"must have {n_choices}"
        )
    label = record.get("label")
    if isinstance(label, bool) or not isinstance(label, int | np.integer):
        raise InputError(f"{where}: label {label!r} is not a choice index")
    if not 0 <= label < n_choices:
        raise InputError(f"{where}: label {label} is outside 0..{n_choices - 1}")
    return int(label)


class MultipleChoiceHead(nn.Module):
    """One score per choice row, reshaped to (questions, choices)."""

    def __init__(self, hidden_size: int, dropout: float, pooling: str):
        super().__init__()
        self.score = ClassificationHead(hidden_size, 1, dropout, pooling)

    def forward(self, hidden: torch.Tensor, batch: dict) -> torch.Tensor:
        units = batch["labels"].shape[0]
        return self.score(hidden, batch).view(units, -1)


class MultipleChoiceKind(Kind):
    """Features: one row per choice, a unit per question (rows_per_unit =
    number of choices); unit arrays `labels` (the right choice) and
    `record_index`."""

    target = TrainThenEvaluate()  # English training, best step, zero-shot

    name = "multiple_choice"
    version = "1"

    def featurize(self, tokenizer, records, task, max_length, stride) -> Features:
        n_choices = number_of_choices(records, task)
        labels = [check_record(r, i, n_choices, task) for i, r in enumerate(records)]
        pairs = [pair for r in records for pair in choice_pairs(r)]
        if pairs:
            flat, offsets, types = encode_pairs(tokenizer, pairs, max_length)
        else:
            flat, offsets, types = np.zeros(0, np.int32), np.zeros(1, np.int64), None
        return Features(
            flat,
            offsets,
            max(1, n_choices),
            types,
            {
                "labels": np.array(labels, dtype=np.int64),
                "record_index": np.arange(len(records), dtype=np.int64),
            },
        )

    def make_head(self, hidden_size, task, dropout, pooling) -> nn.Module:
        return MultipleChoiceHead(hidden_size, dropout, pooling)

    def loss(self, outputs, batch) -> torch.Tensor:
        return nn.functional.cross_entropy(outputs.float(), batch["labels"])

    def gather(self, outputs, batch) -> dict:
        return {"prediction": outputs.argmax(-1).cpu().numpy()}

    def score(self, gathered, features, records, task, language) -> dict[str, float]:
        labels = features.unit_arrays["labels"]
        return {"accuracy": float((gathered["prediction"] == labels).mean())}

    def predictions(self, gathered, features, records, task, language):
        # Rows as classification's: question id, chosen and gold choice.
        return label_predictions(gathered, features, records, task, language)


KIND = MultipleChoiceKind()
