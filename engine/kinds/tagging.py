"""Token tagging (CCG supertags, UD-POS, PAN-X NER): one tag per word, read
from the first sub-word of that word, as XTREME and Hugging Face's token
classification do; every other sub-word and every special token is -100.

Long sentences are cut into *windows* of whole words, each its own unit (no
overlap, no word split between windows unless a single word is longer than a
window, then only its first sub-words are kept). So every word of every
sentence gets a prediction, in training and in evaluation, whatever
max_length is; scoring puts a sentence's windows back together before
computing span F1, so an entity that crosses a window boundary is still one
span. (XTREME truncates instead and silently leaves the cut words out of the
score; with XLM-R and max length 128 that is almost never a sentence.)

Words are mapped to sub-words with `word_ids` on fast tokenizers (the words
passed with `is_split_into_words`) and by tokenizing each word on its own on
slow ones. A word that tokenizes to nothing (an empty string, a lone control
character) becomes the unknown token, as XTREME does, so it is still scored.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from engine.data.features import Features, ragged
from engine.errors import InputError
from engine.kinds.base import Kind
from engine.kinds.targets import TrainThenEvaluate
from engine.metrics.tagging import chunk_counts, pos_f1, span_f1
from engine.predictions import PredictionTable, example_ids

_CHUNK = 1000
IGNORE = -100


def special_tokens_around(tokenizer) -> tuple[list[int], list[int]]:
    """The ids a tokenizer puts before and after a single sequence ([CLS] ...
    [SEP], <s> ... </s>, ... </s>), found by encoding a probe with and without
    special tokens: works for slow and fast tokenizers alike."""
    probe = "a"
    bare = tokenizer(probe, add_special_tokens=False)["input_ids"]
    full = tokenizer(probe, add_special_tokens=True)["input_ids"]
    for start in range(len(full) - len(bare) + 1):
        if full[start : start + len(bare)] == bare:
            return list(full[:start]), list(full[start + len(bare) :])
    raise ValueError(
        f"cannot tell the special tokens of {type(tokenizer).__name__}: "
        f"{probe!r} encodes as {bare} alone and {full} with special tokens"
    )


def _fallback_id(tokenizer) -> int:
    for token_id in (tokenizer.unk_token_id, tokenizer.pad_token_id):
        if token_id is not None:
            return int(token_id)
    return 0


def word_pieces(tokenizer, sentences: list[list[str]]) -> list[list[list[int]]]:
    """Sub-word ids of every word of every sentence (no special tokens); a
    word that tokenizes to nothing gets the unknown token."""
    fallback = _fallback_id(tokenizer)
    out: list[list[list[int]]] = []
    for start in range(0, len(sentences), _CHUNK):
        chunk = sentences[start : start + _CHUNK]
        if getattr(tokenizer, "is_fast", False):
            out.extend(_pieces_fast(tokenizer, chunk))
        else:
            out.extend(_pieces_slow(tokenizer, chunk))
    for sentence in out:
        for i, pieces in enumerate(sentence):
            if not pieces:
                sentence[i] = [fallback]
    return out


def _pieces_fast(tokenizer, chunk: list[list[str]]) -> list[list[list[int]]]:
    pieces: list[list[list[int]]] = [[[] for _ in words] for words in chunk]
    nonempty = [i for i, words in enumerate(chunk) if words]
    if not nonempty:
        return pieces
    enc = tokenizer(
        [list(chunk[i]) for i in nonempty],
        is_split_into_words=True,
        add_special_tokens=False,
    )
    for j, i in enumerate(nonempty):
        for token_id, word in zip(enc["input_ids"][j], enc.word_ids(j), strict=True):
            if word is not None:
                pieces[i][word].append(token_id)
    return pieces


def _pieces_slow(tokenizer, chunk: list[list[str]]) -> list[list[list[int]]]:
    words = [w for sentence in chunk for w in sentence]
    ids = tokenizer(words, add_special_tokens=False)["input_ids"] if words else []
    pieces, k = [], 0
    for sentence in chunk:
        pieces.append([list(x) for x in ids[k : k + len(sentence)]])
        k += len(sentence)
    return pieces


def _tag_ids(record: dict, index: int, task, tag_id: dict[str, int]) -> list[int]:
    labels = task.labels
    where = f"{task.name}: tagging record {index}"
    tokens, tags = record.get("tokens"), record.get("tags")
    if tokens is None or tags is None:
        raise InputError(f"{where}: expected keys 'tokens' and 'tags'")
    if len(tokens) != len(tags):
        raise InputError(f"{where}: {len(tokens)} tokens but {len(tags)} tags")
    out = []
    for tag in tags:
        if isinstance(tag, str):
            if tag not in tag_id:
                raise InputError(
                    f"{where}: tag {tag!r} is not one of the "
                    f"task's {len(labels)} labels"
                )
            tag = tag_id[tag]
        tag = int(tag)
        if not 0 <= tag < len(labels):
            raise InputError(f"{where}: tag id {tag} is outside 0..{len(labels) - 1}")
        out.append(tag)
    return out


class TokenTaggingHead(nn.Module):
    """Dropout and a linear layer on every token's hidden state."""

    def __init__(self, hidden_size: int, num_labels: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.out_proj = nn.Linear(hidden_size, num_labels)

    def forward(self, hidden: torch.Tensor, batch: dict) -> torch.Tensor:
        return self.out_proj(self.dropout(hidden))


class TaggingKind(Kind):
    """Features: one unit per window of a sentence; token array `labels`
    (the tag id on each word's first sub-word, -100 elsewhere); unit arrays
    `record_index`, `word_start` (the window's first word in its sentence)
    and `n_words`."""

    target = TrainThenEvaluate()  # English training, best step, zero-shot

    name = "tagging"
    version = "1"

    def featurize(self, tokenizer, records, task, max_length, stride) -> Features:
        prefix, suffix = special_tokens_around(tokenizer)
        budget = max_length - len(prefix) - len(suffix)
        if budget < 1:
            raise ValueError(
                f"max_length {max_length} leaves no room for words next to "
                f"{len(prefix) + len(suffix)} special tokens"
            )
        tag_id = {name: i for i, name in enumerate(task.labels)}
        tags = [_tag_ids(r, i, task, tag_id) for i, r in enumerate(records)]
        pieces = word_pieces(tokenizer, [list(r["tokens"]) for r in records])
        rows: list[list[int]] = []
        row_labels: list[list[int]] = []
        record_index: list[int] = []
        word_start: list[int] = []
        n_words: list[int] = []
        head_ignored = [IGNORE] * len(prefix)
        tail_ignored = [IGNORE] * len(suffix)

        def close_window(r: int, first: int, ids: list[int], lab: list[int], n: int):
            rows.append(prefix + ids + suffix)
            row_labels.append(head_ignored + lab + tail_ignored)
            record_index.append(r)
            word_start.append(first)
            n_words.append(n)

        for r, (sentence, sentence_tags) in enumerate(zip(pieces, tags, strict=True)):
            ids: list[int] = []
            lab: list[int] = []
            first = 0
            for w, (word, tag) in enumerate(zip(sentence, sentence_tags, strict=True)):
                word = word[:budget]
                if ids and len(ids) + len(word) > budget:
                    close_window(r, first, ids, lab, w - first)
                    ids, lab, first = [], [], w
                ids.extend(word)
                lab.append(tag)
                lab.extend([IGNORE] * (len(word) - 1))
            if ids:
                close_window(r, first, ids, lab, len(sentence) - first)

        flat, offsets = ragged(rows)
        flat_labels = ragged(row_labels)[0]
        return Features(
            flat,
            offsets,
            1,
            None,
            {
                "record_index": np.array(record_index, dtype=np.int64),
                "word_start": np.array(word_start, dtype=np.int32),
                "n_words": np.array(n_words, dtype=np.int32),
            },
            {"labels": flat_labels},
        )

    def collate(self, features, units, pad_id, pad_to_multiple):
        batch = super().collate(features, units, pad_id, pad_to_multiple)
        # gather's outputs need one width for every batch of the split.
        n_words = features.unit_arrays["n_words"]
        batch["word_width"] = torch.tensor(int(n_words.max()) if len(n_words) else 1)
        return batch

    def make_head(self, hidden_size, task, dropout, pooling) -> nn.Module:
        return TokenTaggingHead(hidden_size, len(task.labels), dropout)

    def loss(self, outputs, batch) -> torch.Tensor:
        return nn.functional.cross_entropy(
            outputs.float().flatten(0, 1),
            batch["token.labels"].flatten(),
            ignore_index=IGNORE,
        )

    def gather(self, outputs, batch) -> dict:
        """Each unit's predicted tag ids, one per word (its first sub-word),
        left-aligned and padded with -1 to the split's widest window."""
        labelled = batch["token.labels"] != IGNORE
        predicted = outputs.argmax(-1)
        width = int(batch["word_width"])
        out = torch.full(
            (predicted.shape[0], width), -1, dtype=torch.long, device=predicted.device
        )
        rows, cols = labelled.nonzero(as_tuple=True)
        word = (labelled.cumsum(1) - 1)[rows, cols]
        out[rows, word] = predicted[rows, cols]
        return {"prediction": out.cpu().numpy()}

    def score(self, gathered, features, records, task, language) -> dict[str, float]:
        gold_sentences, pred_sentences, accuracy = sentences_of(
            gathered, features, task
        )
        return tagging_metrics(task, gold_sentences, pred_sentences, accuracy)

    def predictions(self, gathered, features, records, task, language):
        return tag_predictions(gathered, features, records, task, language)


def tag_predictions(
    gathered, features: Features, records, task, language: str
) -> PredictionTable:
    """One row per sentence: predicted and gold tag names, its chunk counts
    tp/fp/fn (seqeval, as the stored span or POS F1 counts them) and its
    correct/tokens words (token accuracy is over words, not sentences: the
    "token_accuracy" reducer). Ids "<language>-<sentence index>" (tagging rows have
    none)."""
    gold_sentences, pred_sentences, _ = sentences_of(gathered, features, task)
    n_words = features.unit_arrays["n_words"].astype(np.int64)
    word_record = np.repeat(features.unit_arrays["record_index"], n_words)
    starts = np.r_[0, np.flatnonzero(np.diff(word_record)) + 1]
    sentence_record = word_record[starts]
    ids = example_ids(records, language, len(records))
    with_f1 = task.metric in ("span_f1", "pos_f1")
    rows = []
    for record, gold, pred in zip(
        sentence_record, gold_sentences, pred_sentences, strict=True
    ):
        row = {
            "id": ids[int(record)] if ids else f"{language}-{int(record)}",
            "prediction": pred,
            "gold": gold,
            "correct": sum(g == p for g, p in zip(gold, pred, strict=True)),
            "tokens": len(gold),
        }
        if with_f1:
            row["tp"], row["fp"], row["fn"] = chunk_counts(gold, pred)
        rows.append(row)
    metrics = {"f1": "f1_counts"} if with_f1 else {}
    metrics["accuracy"] = "token_accuracy"
    return PredictionTable(metrics, rows, labels=list(task.labels))


def sentences_of(gathered, features: Features, task):
    """Gold and predicted tag names per sentence (its windows joined back
    together), and token accuracy over all words."""
    n_words = features.unit_arrays["n_words"].astype(np.int64)
    flat_labels = features.token_arrays["labels"]
    gold = flat_labels[flat_labels != IGNORE].astype(np.int64)
    prediction = gathered["prediction"]
    width = prediction.shape[1] if prediction.ndim == 2 else 0
    keep = np.arange(width)[None, :] < n_words[:, None]
    pred = prediction[keep].astype(np.int64)
    if len(gold) != len(pred) or not len(gold):
        raise ValueError(
            f"{task.name}: {len(gold)} gold words but {len(pred)} predicted ones"
        )
    word_record = np.repeat(features.unit_arrays["record_index"], n_words)
    cuts = np.flatnonzero(np.diff(word_record)) + 1
    names = np.array(task.labels, dtype=object)
    gold_sentences = [s.tolist() for s in np.split(names[gold], cuts)]
    pred_sentences = [s.tolist() for s in np.split(names[pred], cuts)]
    return gold_sentences, pred_sentences, float((gold == pred).mean())


TAGGING_METRICS = ("span_f1", "pos_f1", "accuracy")


def tagging_metrics(task, gold, pred, accuracy: float) -> dict[str, float]:
    """The task's primary metric first, token accuracy as a minor one."""
    if task.metric == "span_f1":
        return {"f1": span_f1(gold, pred), "accuracy": accuracy}
    if task.metric == "pos_f1":
        return {"f1": pos_f1(gold, pred), "accuracy": accuracy}
    if task.metric == "accuracy":
        return {"accuracy": accuracy}
    raise ValueError(
        f"tagging task {task.name!r}: metric {task.metric!r} is not one of "
        f"{', '.join(TAGGING_METRICS)}"
    )


KIND = TaggingKind()
