"""Sentence retrieval (BUCC 2018, Tatoeba): scored straight after the
intermediate stage, without any target training.

Each sentence is embedded as the mean, over its real tokens (special tokens
included, padding excluded), of one hidden layer of the encoder; similarity is
the cosine. BUCC mines sentence pairs by margin scoring and reports F1 at the
threshold that maximises it; Tatoeba reports nearest-neighbour accuracy. The
metrics themselves are engine.metrics.retrieval.

Which layer: indices are those of HF's `output_hidden_states` tuple, where 0 is
the embedding output and i (1..num_hidden_layers) the output of transformer
layer i; negative indices count from the last layer as in Python. The default
reproduces the XTREME reference: its third_party/run_retrieval.py and
evaluate_retrieval.py keep the last `num_layers` entries of that tuple (the
embedding output dropped) and take entry `specific_layer`, with
scripts/run_tatoeba.sh passing 7 for 12-layer models and 13 for 24-layer
XLM-R. That is hidden_states[8] of 12 and hidden_states[14] of 24; jiant, the
toolkit of the X-STILTs paper, uses hidden_states[14] for XLM-R Large ("the
reference implementation from the XTREME paper uses layer 14", its
xtreme configurator). `default_layer` is `num_hidden_layers // 2 + 2`, which
gives both, capped at the last layer for very shallow models (2 for the
2-layer xlt-tiny).

Which side is which: the *source* is the non-English side, the *target* is
English, as XTREME's files (BUCC `xx-en.*.xx` / `.en`, gold lines
`xx_id<TAB>en_id`; Tatoeba `tatoeba.xx-eng.xx` / `.eng`) and jiant's
evaluation order them. For Tatoeba, XTREME and jiant index the non-English
sentences and query them with each English one (`similarity_search(x=other,
y=english)`): tatoeba_accuracy's default direction. BUCC mining looks both
ways (margin scores from each side's k nearest neighbours).

Heavy module (torch): imported only by the runner.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import torch

from engine.data.batching import eval_batches
from engine.data.features import Features
from engine.data.retrieval_pairs import split_retrieval_records
from engine.kinds.base import Kind, Score, StageContext, pad_rows
from engine.kinds.classification import encode_texts
from engine.metrics.retrieval import bucc_f1, bucc_mine, l2_normalize, tatoeba_accuracy
from engine.models.loading import load_encoder
from engine.tasks.kinds import EMBED_AND_SCORE

# Neighbourhood of the ratio margin (XTREME's mine_bitext, LASER's recipe).
BUCC_NEIGHBOURS = 4

METRICS = ("bucc_f1", "tatoeba_accuracy")


def num_layers_of(encoder_config) -> int:
    """Transformer layers of an encoder config (BERT/XLM-R name them
    num_hidden_layers; a few families use n_layer or num_layers)."""
    for name in ("num_hidden_layers", "n_layer", "num_layers"):
        value = getattr(encoder_config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    raise ValueError(
        f"cannot tell how many layers {type(encoder_config).__name__} has "
        "(no num_hidden_layers, n_layer or num_layers)"
    )


def default_layer(encoder_config) -> int:
    """The hidden_states index XTREME's reference embeds from: 8 of 12
    layers, 14 of 24 (index 0 is the embedding output); capped at the last."""
    n = num_layers_of(encoder_config)
    return min(n, n // 2 + 2)


def resolve_layer(encoder_config, layer: int | None) -> int:
    """`layer` as a non-negative hidden_states index (None: the default)."""
    n = num_layers_of(encoder_config)
    if layer is None:
        return default_layer(encoder_config)
    index = layer + n + 1 if layer < 0 else layer
    if not 0 <= index <= n:
        raise ValueError(
            f"retrieval layer {layer} is out of range for a {n}-layer encoder: "
            f"expected 0 (embeddings) to {n} (last layer), or -1 to -{n + 1}; "
            f"the default is {default_layer(encoder_config)}"
        )
    return index


def _encode(tokenizer, texts: Sequence[str], max_length: int) -> Features:
    # Single texts with the tokenizer's own special tokens (<s> ... </s> for
    # XLM-R, [CLS] ... [SEP] for BERT), truncated as XTREME does.
    flat, offsets, types = encode_texts(tokenizer, [(t,) for t in texts], max_length)
    return Features(flat, offsets, 1, types)


@torch.no_grad()
def embed(
    encoder,
    tokenizer,
    texts: Sequence[str],
    layer: int | None,
    max_length: int,
    batch_size: int,
    runtime,
) -> np.ndarray:
    """One L2-normalised float32 row per text: the mean over its tokens of
    hidden_states[layer] (None: `default_layer`). Texts are batched by length
    so little is spent on padding; rows come back in the order of `texts`."""
    index = resolve_layer(encoder.config, layer)
    out = np.zeros((len(texts), encoder.config.hidden_size), dtype=np.float32)
    if not texts:
        return out
    features = _encode(tokenizer, texts, max_length)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    was_training = encoder.training
    encoder.to(runtime.device)
    encoder.eval()  # no dropout: an embedding must not depend on chance
    try:
        for rows in eval_batches(features.row_lengths, batch_size):
            batch = runtime.to_device(
                pad_rows(features, rows, pad_id, runtime.pad_to_multiple)
            )
            with runtime.autocast():
                hidden = encoder(**batch, output_hidden_states=True).hidden_states
            states = hidden[index].float()
            mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
            pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            out[rows] = pooled.cpu().numpy()
    finally:
        encoder.train(was_training)
    return l2_normalize(out)


_Item = TypeVar("_Item")


def _head(items: list[_Item], n: int) -> list[_Item]:
    return items[:n] if n else items


def _tatoeba_rows(source_records, target_records, gold_pairs):
    """(source rows, target rows) aligned pair by pair. No gold pairs: row i of
    each side. Otherwise the gold pairs must pair every sentence exactly once."""
    if gold_pairs is None:
        if len(source_records) != len(target_records):
            raise ValueError(
                f"tatoeba: {len(source_records)} source and {len(target_records)} "
                "target sentences; without gold pairs the sides must be parallel"
            )
        rows = list(range(len(source_records)))
        return rows, rows
    source_row = {r["id"]: i for i, r in enumerate(source_records)}
    target_row = {r["id"]: i for i, r in enumerate(target_records)}
    src_rows, tgt_rows = [], []
    for src_id, tgt_id in gold_pairs:
        if src_id not in source_row or tgt_id not in target_row:
            raise ValueError(
                f"tatoeba: gold pair ({src_id!r}, {tgt_id!r}) names an unknown id"
            )
        src_rows.append(source_row[src_id])
        tgt_rows.append(target_row[tgt_id])
    n_src, n_tgt = len(source_records), len(target_records)
    if not (
        len(set(src_rows)) == len(src_rows) == n_src == len(set(tgt_rows)) == n_tgt
    ):
        raise ValueError(
            f"tatoeba: the gold pairs must pair each of the {n_src} source and "
            f"{n_tgt} target sentences exactly once ({len(src_rows)} pairs given)"
        )
    return src_rows, tgt_rows


def evaluate_retrieval(
    encoder,
    tokenizer,
    task,
    source_records: list[dict],
    target_records: list[dict],
    gold_pairs: Sequence[tuple[str, str]] | None,
    layer: int | None,
    hp,
    runtime,
) -> dict[str, float]:
    """Score one language of a retrieval task.

    `source_records` are the non-English sentences, `target_records` the
    English ones, each `{"id": str, "text": str}`; `gold_pairs` are
    (source_id, target_id). Tatoeba (task.metric "tatoeba_accuracy"): every
    sentence has exactly one translation; gold_pairs may be None when the two
    sides are parallel row by row (XTREME's files). BUCC ("bucc_f1"): sentences
    without a pair are the point; the threshold is chosen for the best F1 on
    these gold pairs, as XTREME and jiant do.

    Uses hp.max_seq_length, hp.batch_size (x2, no gradients are kept, as
    engine.train.predict) and hp.max_eval_examples (the first n pairs for
    Tatoeba; the first n sentences of each side for BUCC, gold pairs kept
    where both ends remain). Returns {"f1", "precision", "recall",
    "threshold"} or {"accuracy"}; the first key is the primary metric.
    """
    metric = task.metric
    if metric not in METRICS:
        raise ValueError(f"retrieval task {task.name!r}: unknown metric {metric!r}")
    n = hp.max_eval_examples

    def vectors(records: list[dict]) -> np.ndarray:
        texts = [r["text"] for r in records]
        return embed(
            encoder,
            tokenizer,
            texts,
            layer,
            hp.max_seq_length,
            hp.batch_size * 2,
            runtime,
        )

    if metric == "tatoeba_accuracy":
        src_rows, tgt_rows = _tatoeba_rows(source_records, target_records, gold_pairs)
        src_rows, tgt_rows = _head(src_rows, n), _head(tgt_rows, n)
        source = [source_records[i] for i in src_rows]
        target = [target_records[i] for i in tgt_rows]
        return {"accuracy": tatoeba_accuracy(vectors(source), vectors(target))}

    source, target = _head(source_records, n), _head(target_records, n)
    if gold_pairs is None:
        raise ValueError(f"retrieval task {task.name!r}: BUCC needs gold pairs")
    src_ids = [r["id"] for r in source]
    tgt_ids = [r["id"] for r in target]
    kept_src, kept_tgt = set(src_ids), set(tgt_ids)
    gold = [(s, t) for s, t in gold_pairs if s in kept_src and t in kept_tgt]
    candidates = bucc_mine(
        vectors(source),
        vectors(target),
        src_ids,
        tgt_ids,
        k=BUCC_NEIGHBOURS,
        src_texts=[r["text"] for r in source],
        tgt_texts=[r["text"] for r in target],
    )
    return bucc_f1(candidates, gold)


class EmbedAndScore:
    """How a retrieval target is run: no training; the encoder of the stage it
    starts from (the intermediate checkpoint, or the pretrained model for the
    baseline) embeds both sides of each language, as XTREME does."""

    mode = EMBED_AND_SCORE

    def prepare(self, stage, ctx: StageContext) -> EmbeddingTarget:
        encoder = load_encoder(ctx.start_of(stage))
        layer = stage.hparams.retrieval_layer
        used = resolve_layer(encoder.config, None if layer < 0 else layer)
        return EmbeddingTarget(stage, ctx, encoder, used)


class EmbeddingTarget:
    def __init__(self, stage, ctx: StageContext, encoder, layer: int):
        self.stage, self.ctx, self.encoder, self.layer = stage, ctx, encoder, layer
        self.summary = {"layer": layer, "trained": False}

    def score(self, language: str, split: str) -> Score:
        task, ctx = self.stage.target_task, self.ctx
        records = ctx.records(task, split, language)
        source, target, gold = split_retrieval_records(records)
        metrics = evaluate_retrieval(
            self.encoder,
            ctx.tokenizer,
            task,
            source,
            target,
            gold,
            self.layer,
            self.stage.hparams,
            ctx.runtime,
        )
        return Score(language, split, metrics, len(source))


class RetrievalKind(Kind):
    """No head and no training: targets are scored from embeddings
    (EmbedAndScore). `featurize` tokenizes one side's sentences (what `embed`
    feeds the encoder)."""

    name = "retrieval"
    target = EmbedAndScore()

    def featurize(self, tokenizer, records, task, max_length, stride) -> Features:
        return _encode(tokenizer, [r["text"] for r in records], max_length)

    def make_head(self, hidden_size, task, dropout, pooling):
        raise TypeError(
            f"{task.name}: retrieval tasks have no head and are not trained; "
            "score them with engine.kinds.retrieval.evaluate_retrieval"
        )


KIND = RetrievalKind()
