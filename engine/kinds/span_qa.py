"""Extractive question answering (SQuAD v1.1/v2.0, XQuAD, MLQA, TyDiQA-GoldP).

Featurization follows Hugging Face's run_qa.py and the XTREME reference
(run_squad.py): the question and the context are encoded as one pair, the
context truncated ("only_second") to `max_length`; a context that does not fit
is cut into several windows that overlap by `stride` tokens (doc_stride), each
window its own unit, mapped back to its record by `record_index`. Per token,
`char_start`/`char_end` give the character span of each context token in its
record's context (-1 for question and special tokens), so a predicted token span
maps back to the exact context substring, and `max_context` marks the window in
which a token has the most context on both sides (XTREME's token_is_max_context:
a predicted answer must start where its window sees it best).

Training targets: the first gold answer's first and last token when the answer
lies wholly inside the window, else position 0 (the [CLS]/<s> token, or the
first token for tokenizers without one), which means "no answer in this
window"; SQuAD v2.0 records without answers train toward position 0 in every
window.

Two tokenization paths, with the same window semantics:

- fast tokenizers (every hub model xlt targets: XLM-R, mBERT): the tokenizer
  does the windowing itself (`return_overflowing_tokens`, `stride`) and gives
  offset mappings and sequence ids;
- slow tokenizers: the question and context are tokenized separately with
  character offsets computed here, windows are cut by `window_spans` and
  assembled with the tokenizer's own special tokens. For byte-level tokenizers
  (ByT5's, the built-in xlt-tiny's) every token is one UTF-8 byte, so each
  token's characters are exact: the byte's character. Other slow tokenizers
  are tokenized word by word (whitespace-separated words, as the original BERT
  SQuAD code did) and each sub-token is aligned to its characters within the
  word; a sub-token that cannot be aligned (e.g. after accent stripping) gets
  the rest of its word.

Questions are cut to at most 64 tokens (XTREME's max_query_length), or half of
what the pair may hold for short `max_length`. `stride` is capped at half the
smallest context room, so windows always advance by at least half a window
(the fast tokenizers refuse a stride that does not fit).

Scoring is run_qa's n-best post-processing: per window, the top-20 start and
end logits; per record, over all its windows, the best span with start <= end,
both inside the context, at most `max_answer_length` tokens long, scored by
start + end logit; the answer is context[char_start:char_end]. For tasks that
allow no answer (SQuAD v2.0), "" is predicted when the no-answer score (start +
end logit at position 0, the smallest over the record's windows) beats the best
span. Metrics by `task.metric`: SQuAD v1.1 (also XQuAD and TyDiQA-GoldP, which
XTREME scores with the SQuAD v1.1 script), SQuAD v2.0, MLQA (per-language
normalisation, in the evaluated language).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from engine.data.features import Features, ragged
from engine.kinds.base import Kind
from engine.kinds.targets import TrainThenEvaluate
from engine.predictions import PredictionTable, example_ids

N_BEST = 20
MAX_ANSWER_TOKENS = 30
# Byte-level tokenizers spend one token per UTF-8 byte: up to four per character.
MAX_ANSWER_BYTES = 4 * MAX_ANSWER_TOKENS
MAX_QUERY_TOKENS = 64
NULL_SCORE_DIFF_THRESHOLD = 0.0
_CHUNK = 1000
_NEG = -1e9

# task.metric -> (metric function, whether the language is passed on)
_METRICS = {
    "squad": ("engine.metrics.squad:squad_v1", False),
    "squad_v1": ("engine.metrics.squad:squad_v1", False),
    "squad_em_f1": ("engine.metrics.squad:squad_v1", False),
    "xquad": ("engine.metrics.squad:squad_v1", False),
    "tydiqa": ("engine.metrics.squad:squad_v1", False),
    "squad_v2": ("engine.metrics.squad:squad_v2", False),
    "mlqa": ("engine.metrics.mlqa:mlqa", True),
    "mlqa_em_f1": ("engine.metrics.mlqa:mlqa", True),
}


def allows_no_answer(task) -> bool:
    """SQuAD v2.0-style tasks: "" (no answer) is a valid prediction."""
    return bool(getattr(task, "allows_no_answer", False)) or task.metric == "squad_v2"


def window_spans(n_tokens: int, room: int, stride: int) -> list[tuple[int, int]]:
    """[start, end) context-token ranges of the windows of a context of
    `n_tokens` tokens, `room` tokens per window, consecutive windows sharing
    `stride` tokens (the fast tokenizers' overflow semantics)."""
    if room < 1:
        raise ValueError(f"no room for the context (room={room})")
    if not 0 <= stride < room:
        raise ValueError(f"stride must be in [0, {room}), got {stride}")
    spans = []
    start = 0
    while True:
        end = min(start + room, n_tokens)
        spans.append((start, end))
        if end >= n_tokens:
            return spans
        start = end - stride


def answer_tokens(
    char_start: np.ndarray, char_end: np.ndarray, answer_start: int, answer_end: int
) -> tuple[int, int]:
    """First and last token (indices into the arrays) overlapping the answer's
    characters [answer_start, answer_end), or (0, 0) when the answer is not
    wholly inside these tokens. -1 entries (not context) never match;
    zero-width tokens (trimmed whitespace) never start or end an answer."""
    context = char_start >= 0
    if not context.any():
        return 0, 0
    if char_start[context].min() > answer_start or char_end[context].max() < answer_end:
        return 0, 0
    inside = (
        context
        & (char_end > char_start)
        & (char_start < answer_end)
        & (char_end > answer_start)
    )
    hits = np.flatnonzero(inside)
    if not len(hits):
        return 0, 0
    return int(hits[0]), int(hits[-1])


def max_context_flags(spans: list[tuple[int, int]], n_tokens: int) -> list[np.ndarray]:
    """For each window, which of its tokens have their most context there:
    the window maximising min(left, right) + 0.01 * window length (XTREME)."""
    best_score = np.full(n_tokens, -1.0)
    best_window = np.zeros(n_tokens, dtype=np.int64)
    for w, (start, end) in enumerate(spans):
        positions = np.arange(start, end)
        score = np.minimum(positions - start, end - 1 - positions) + 0.01 * (
            end - start
        )
        better = score > best_score[start:end]
        best_score[start:end][better] = score[better]
        best_window[start:end][better] = w
    return [best_window[s:e] == w for w, (s, e) in enumerate(spans)]


def _first_answer(record: dict) -> tuple[int, int] | None:
    answers = record.get("answers") or {}
    texts = answers.get("text") or []
    starts = answers.get("answer_start") or []
    if not texts or not starts or not texts[0] or starts[0] is None or starts[0] < 0:
        return None
    return int(starts[0]), int(starts[0]) + len(texts[0])


class _Builder:
    """Collects windows: rows of ids and their per-unit / per-token arrays."""

    def __init__(self, max_answer_tokens: int):
        self.max_answer_tokens = max_answer_tokens
        self.ids: list[list[int]] = []
        self.type_ids: list[list[int]] | None = []
        self.char_start: list[np.ndarray] = []
        self.char_end: list[np.ndarray] = []
        self.max_context: list[np.ndarray] = []
        self.start_positions: list[int] = []
        self.end_positions: list[int] = []
        self.record_index: list[int] = []

    def add(
        self,
        record_index: int,
        answer: tuple[int, int] | None,
        ids: list[int],
        type_ids: list[int] | None,
        char_start: np.ndarray,
        char_end: np.ndarray,
        max_context: np.ndarray,
    ) -> None:
        self.ids.append(list(ids))
        if type_ids is not None and self.type_ids is not None:
            self.type_ids.append(list(type_ids))
        else:
            self.type_ids = None
        self.char_start.append(char_start.astype(np.int32))
        self.char_end.append(char_end.astype(np.int32))
        self.max_context.append(max_context.astype(np.int8))
        start = end = 0
        if answer is not None:
            start, end = answer_tokens(char_start, char_end, *answer)
        self.start_positions.append(start)
        self.end_positions.append(end)
        self.record_index.append(record_index)

    def features(self) -> Features:
        flat, offsets = ragged(self.ids)
        types = ragged(self.type_ids, np.int8)[0] if self.type_ids else None
        n = len(self.ids)

        def cat(parts, dtype):
            return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

        return Features(
            flat,
            offsets,
            1,
            types,
            {
                "start_positions": np.array(self.start_positions, dtype=np.int64),
                "end_positions": np.array(self.end_positions, dtype=np.int64),
                "record_index": np.array(self.record_index, dtype=np.int64),
                "max_answer_tokens": np.full(n, self.max_answer_tokens, np.int32),
            },
            {
                "char_start": cat(self.char_start, np.int32),
                "char_end": cat(self.char_end, np.int32),
                "max_context": cat(self.max_context, np.int8),
            },
        )


def _limits(max_length: int, n_special: int, stride: int) -> tuple[int, int]:
    """(question token limit, effective stride) for this max_length."""
    budget = max_length - n_special
    if budget < 2:
        raise ValueError(
            f"max_length {max_length} leaves no room for a question and a context"
        )
    max_query = min(MAX_QUERY_TOKENS, budget // 2)
    min_room = budget - max_query
    return max_query, max(0, min(stride, min_room // 2))


# -- fast tokenizers ----------------------------------------------------------
def _featurize_fast(tokenizer, records, max_length, stride) -> Features:
    n_special = tokenizer.num_special_tokens_to_add(pair=True)
    max_query, stride = _limits(max_length, n_special, stride)
    builder = _Builder(MAX_ANSWER_TOKENS)
    for first in range(0, len(records), _CHUNK):
        chunk = records[first : first + _CHUNK]
        questions = [r["question"].lstrip() for r in chunk]
        # Cut over-long questions at the character end of their last kept token.
        q_enc = tokenizer(
            questions, add_special_tokens=False, return_offsets_mapping=True
        )
        for i, offsets in enumerate(q_enc["offset_mapping"]):
            if len(offsets) > max_query:
                questions[i] = questions[i][: offsets[max_query - 1][1]]
        contexts = [r["context"] for r in chunk]
        enc = tokenizer(
            questions,
            contexts,
            truncation="only_second",
            max_length=max_length,
            stride=stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            padding=False,
        )
        sample_map = enc["overflow_to_sample_mapping"]
        # Context-token index of each window's first token, per record, to
        # find the windows' spans (for max_context) without re-tokenizing.
        windows: dict[int, list[tuple[int, int, int]]] = {}
        context_masks: list[np.ndarray] = []
        next_start: dict[int, int] = {}
        for w in range(len(enc["input_ids"])):
            is_context = np.array([s == 1 for s in enc.sequence_ids(w)], dtype=bool)
            context_masks.append(is_context)
            n_ctx = int(is_context.sum())
            r = int(sample_map[w])
            start = next_start.get(r, 0)
            windows.setdefault(r, []).append((w, start, start + n_ctx))
            next_start[r] = start + n_ctx - stride
        has_types = "token_type_ids" in enc
        for r, parts in windows.items():
            n_tokens = parts[-1][2]
            flags = max_context_flags([(s, e) for _, s, e in parts], n_tokens)
            answer = _first_answer(chunk[r])
            for (w, _, _), window_flags in zip(parts, flags, strict=True):
                is_context = context_masks[w]
                offsets = np.array(enc["offset_mapping"][w], dtype=np.int64)
                offsets = offsets.reshape(-1, 2)
                max_context = np.zeros(len(is_context), dtype=np.int8)
                max_context[is_context] = window_flags
                builder.add(
                    first + r,
                    answer,
                    enc["input_ids"][w],
                    enc["token_type_ids"][w] if has_types else None,
                    np.where(is_context, offsets[:, 0], -1),
                    np.where(is_context, offsets[:, 1], -1),
                    max_context,
                )
    return builder.features()


# -- slow tokenizers ----------------------------------------------------------
def byte_table(tokenizer) -> np.ndarray | None:
    """Token id of each of the 256 byte values when the tokenizer is byte-level
    (one token per UTF-8 byte, as ByT5's), else None."""
    try:
        ids = tokenizer.convert_tokens_to_ids([chr(b) for b in range(256)])
    except (KeyError, TypeError, ValueError):
        return None
    if any(i is None or i == tokenizer.unk_token_id for i in ids):
        return None
    if len(set(ids)) != 256:
        return None
    table = np.array(ids, dtype=np.int64)
    probe = "aé€😀 x"
    got = tokenizer(probe, add_special_tokens=False)["input_ids"]
    if list(got) != table[np.frombuffer(probe.encode(), np.uint8)].tolist():
        return None
    return table


def _byte_tokens(text: str, table: np.ndarray):
    """Ids and character spans of a byte-level tokenization: each byte's
    span is the character it belongs to. Special-token strings inside the text
    (e.g. "</s>") stay plain bytes."""
    data = text.encode("utf-8")
    ids = table[np.frombuffer(data, dtype=np.uint8)]
    lengths = np.fromiter(
        (len(ch.encode("utf-8")) for ch in text), dtype=np.int64, count=len(text)
    )
    char_of_byte = np.repeat(np.arange(len(text), dtype=np.int64), lengths)
    return ids.tolist(), char_of_byte, char_of_byte + 1


def _strip_marker(token: str) -> str:
    for marker in ("##", "\u2581", "\u0120"):
        if token.startswith(marker):
            return token[len(marker) :]
    return token


def _word_tokens(text: str, tokenizer):
    """Ids and character spans, tokenizing whitespace-separated words one by
    one and aligning each sub-token to its characters inside the word."""
    ids: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    position = 0
    for word in text.split():
        word_start = text.index(word, position)
        word_end = word_start + len(word)
        position = word_end
        lowered = word.lower()
        cursor = 0
        tokens = tokenizer.tokenize(word)
        for token in tokens:
            piece = _strip_marker(token).lower()
            found = lowered.find(piece, cursor) if piece else -1
            if found >= 0:
                starts.append(word_start + found)
                ends.append(word_start + found + len(piece))
                cursor = found + len(piece)
            else:
                starts.append(word_start + cursor)
                ends.append(word_end)
        ids.extend(tokenizer.convert_tokens_to_ids(tokens))
    return ids, np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64)


def _pair_layout(tokenizer) -> tuple[int, int]:
    """Where a pair's parts sit: (tokens before the question, tokens between
    question and context), read from the tokenizer's own special tokens."""
    row = tokenizer.build_inputs_with_special_tokens([-1, -1], [-2, -2, -2])
    prefix = row.index(-1)
    middle = row.index(-2) - (prefix + 2)
    return prefix, middle


def _featurize_slow(tokenizer, records, max_length, stride) -> Features:
    table = byte_table(tokenizer)
    prefix, middle = _pair_layout(tokenizer)
    n_special = tokenizer.num_special_tokens_to_add(pair=True)
    max_query, stride = _limits(max_length, n_special, stride)
    with_types = "token_type_ids" in tokenizer.model_input_names
    builder = _Builder(MAX_ANSWER_TOKENS if table is None else MAX_ANSWER_BYTES)

    def tokens(text: str):
        if table is not None:
            return _byte_tokens(text, table)
        return _word_tokens(text, tokenizer)

    for index, record in enumerate(records):
        q_ids = tokens(record["question"].lstrip())[0][:max_query]
        c_ids, c_start, c_end = tokens(record["context"])
        room = max_length - n_special - len(q_ids)
        spans = window_spans(len(c_ids), room, stride)
        flags = max_context_flags(spans, len(c_ids))
        answer = _first_answer(record)
        for (start, end), window_flags in zip(spans, flags, strict=True):
            window = c_ids[start:end]
            ids = tokenizer.build_inputs_with_special_tokens(q_ids, window)
            type_ids = (
                tokenizer.create_token_type_ids_from_sequences(q_ids, window)
                if with_types
                else None
            )
            first = prefix + len(q_ids) + middle
            char_start = np.full(len(ids), -1, dtype=np.int64)
            char_end = np.full(len(ids), -1, dtype=np.int64)
            max_context = np.zeros(len(ids), dtype=np.int8)
            char_start[first : first + len(window)] = c_start[start:end]
            char_end[first : first + len(window)] = c_end[start:end]
            max_context[first : first + len(window)] = window_flags
            builder.add(index, answer, ids, type_ids, char_start, char_end, max_context)
    return builder.features()


# -- post-processing ----------------------------------------------------------
def _candidates(
    index: np.ndarray,
    char_start: np.ndarray,
    char_end: np.ndarray,
    max_context: np.ndarray | None = None,
) -> np.ndarray:
    """Which token indices of one window may start/end an answer: inside the
    row, a context token of non-zero width (and, for starts, max-context)."""
    ok = (index >= 0) & (index < len(char_start))
    safe = np.where(ok, index, 0)
    ok &= (char_start[safe] >= 0) & (char_end[safe] > char_start[safe])
    if max_context is not None:
        ok &= max_context[safe] > 0
    return ok


def best_spans(
    gathered: dict[str, np.ndarray],
    features: Features,
    n_records: int,
) -> tuple[dict[int, tuple[float, int, int, int]], dict[int, float]]:
    """For each record: its best span (score, window, start token, end token)
    over all its windows, and its no-answer score (the smallest over its
    windows, as run_qa). Records without a valid span have no entry in the
    first dict."""
    best: dict[int, tuple[float, int, int, int]] = {}
    null: dict[int, float] = {}
    char_start = features.token_arrays["char_start"]
    char_end = features.token_arrays["char_end"]
    max_context = features.token_arrays["max_context"]
    record_index = features.unit_arrays["record_index"]
    max_answer = features.unit_arrays["max_answer_tokens"]
    for unit in range(len(features)):
        record = int(record_index[unit])
        if record >= n_records:
            raise ValueError(
                f"window {unit} belongs to record {record}, but only {n_records} "
                "records were given"
            )
        null_score = float(gathered["null_score"][unit])
        null[record] = min(null.get(record, null_score), null_score)
        lo, hi = int(features.offsets[unit]), int(features.offsets[unit + 1])
        starts = gathered["start_index"][unit].astype(np.int64)
        ends = gathered["end_index"][unit].astype(np.int64)
        tokens = (char_start[lo:hi], char_end[lo:hi])
        s_ok = _candidates(starts, *tokens, max_context[lo:hi])
        e_ok = _candidates(ends, *tokens)
        length = ends[None, :] - starts[:, None] + 1
        ok = (
            s_ok[:, None]
            & e_ok[None, :]
            & (length >= 1)
            & (length <= int(max_answer[unit]))
        )
        if not ok.any():
            continue
        score = (
            gathered["start_logit"][unit][:, None]
            + gathered["end_logit"][unit][None, :]
        )
        score = np.where(ok, score, -np.inf)
        i, j = np.unravel_index(int(np.argmax(score)), score.shape)
        value = float(score[i, j])
        if record not in best or value > best[record][0]:
            best[record] = (value, unit, int(starts[i]), int(ends[j]))
    return best, null


def predictions(
    gathered: dict[str, np.ndarray],
    features: Features,
    records: Sequence[dict],
    no_answer: bool,
    threshold: float = NULL_SCORE_DIFF_THRESHOLD,
) -> dict[int, str]:
    """The predicted answer text of every record that has a window: the best
    span's context substring, or "" (no answer: nothing valid, or, when
    `no_answer`, the no-answer score beats the best span by > threshold)."""
    best, null = best_spans(gathered, features, len(records))
    out: dict[int, str] = {}
    char_start = features.token_arrays["char_start"]
    char_end = features.token_arrays["char_end"]
    for record in null:
        if record not in best:
            out[record] = ""
            continue
        score, unit, start, end = best[record]
        if no_answer and null[record] - score > threshold:
            out[record] = ""
            continue
        lo = int(features.offsets[unit])
        context = records[record]["context"]
        out[record] = context[int(char_start[lo + start]) : int(char_end[lo + end])]
    return out


def metric_function(task):
    """The metric function for task.metric and whether it takes the language."""
    import importlib

    try:
        target, with_language = _METRICS[task.metric]
    except KeyError:
        raise ValueError(
            f"span_qa: unknown metric {task.metric!r} for task {task.name!r}; "
            f"expected one of {', '.join(_METRICS)}"
        ) from None
    module, attribute = target.split(":")
    return getattr(importlib.import_module(module), attribute), with_language


# -- the kind -------------------------------------------------------------------
class SpanHead(nn.Module):
    """A linear layer to start and end logits per token (as BERT's
    ForQuestionAnswering); padding positions get a very low logit."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.qa_outputs = nn.Linear(hidden_size, 2)

    def forward(self, hidden: torch.Tensor, batch: dict) -> torch.Tensor:
        logits = self.qa_outputs(hidden).float()
        padding = batch["attention_mask"] == 0
        return logits.masked_fill(padding.unsqueeze(-1), _NEG)


class SpanQAKind(Kind):
    target = TrainThenEvaluate()  # English training, best step, zero-shot
    name = "span_qa"
    version = "1"
    scores_with_records = True
    n_best = N_BEST

    def featurize(self, tokenizer, records, task, max_length, stride) -> Features:
        if getattr(tokenizer, "is_fast", False):
            return _featurize_fast(tokenizer, records, max_length, stride)
        return _featurize_slow(tokenizer, records, max_length, stride)

    def make_head(self, hidden_size, task, dropout, pooling) -> nn.Module:
        return SpanHead(hidden_size)

    def loss(self, outputs, batch) -> torch.Tensor:
        start = nn.functional.cross_entropy(outputs[..., 0], batch["start_positions"])
        end = nn.functional.cross_entropy(outputs[..., 1], batch["end_positions"])
        return (start + end) / 2

    def gather(self, outputs, batch) -> dict:
        logits = outputs.float()
        k = min(self.n_best, logits.shape[1])
        start_logit, start_index = logits[..., 0].topk(k, dim=1)
        end_logit, end_index = logits[..., 1].topk(k, dim=1)
        null = logits[:, 0, 0] + logits[:, 0, 1]

        def fixed(values: torch.Tensor, fill) -> np.ndarray:
            array = values.cpu().numpy()
            if k == self.n_best:
                return array
            pad = np.full((array.shape[0], self.n_best - k), fill, dtype=array.dtype)
            return np.concatenate([array, pad], axis=1)

        return {
            "start_index": fixed(start_index.to(torch.int32), -1),
            "start_logit": fixed(start_logit, -np.inf),
            "end_index": fixed(end_index.to(torch.int32), -1),
            "end_logit": fixed(end_logit, -np.inf),
            "null_score": null.cpu().numpy(),
        }

    def score(self, gathered, features, records, task, language) -> dict[str, float]:
        if not records:
            raise ValueError(f"span_qa: scoring {task.name!r} needs its records")
        predicted = predictions(gathered, features, records, allows_no_answer(task))
        references = {
            str(i): list((records[i].get("answers") or {}).get("text") or [])
            for i in predicted
        }
        metric, with_language = metric_function(task)
        texts = {str(i): text for i, text in predicted.items()}
        if with_language:
            result = metric(texts, references, language)
        else:
            result = metric(texts, references)
        ordered = {"f1": result["f1"], "exact_match": result["exact_match"]}
        ordered.update(result)
        return ordered

    def predictions(self, gathered, features, records, task, language):
        """One row per question scored: its id (the dataset's question id),
        the answer text predicted ("" for no answer), the gold answer texts,
        and its exact_match and f1: the task's metric on that one question,
        so their means are the stored scores. (SQuAD v2's has/no-answer
        breakdowns are not rebuilt from the rows.)"""
        predicted = predictions(gathered, features, records, allows_no_answer(task))
        metric, with_language = metric_function(task)
        ids = example_ids(records, language, len(records))
        rows = []
        for i, text in predicted.items():
            golds = list((records[i].get("answers") or {}).get("text") or [])
            args = ({"q": text}, {"q": golds})
            one = metric(*args, language) if with_language else metric(*args)
            rows.append(
                {
                    "id": ids[i],
                    "prediction": text,
                    "gold": golds,
                    "exact_match": one["exact_match"],
                    "f1": one["f1"],
                }
            )
        return PredictionTable(
            {"f1": "mean", "exact_match": "mean"},
            rows,
            extra={"qa_metric": task.metric},
        )


KIND = SpanQAKind()
