"""Sentence retrieval (BUCC 2018, Tatoeba): scored straight after the
intermediate stage, without any target training.

Each sentence is embedded as the mean, over its real tokens (special tokens
included, padding excluded), of one hidden layer of the encoder; similarity is
the cosine. Tatoeba reports nearest-neighbour accuracy. The metrics
themselves are engine.metrics.retrieval.

BUCC as XTREME scores it (google-research/xtreme scripts/run_bucc2018.sh ->
third_party/evaluate_retrieval.py, task bucc2018, and third_party/
utils_retrieve.py): every sentence of both sides of the full comparable
corpora is embedded, pairs are mined with the ratio margin over k = 4 nearest
neighbours each way, "max" retrieval (mine_bitext's defaults: forward and
backward candidates together, each sentence in at most one pair), and F1 is
taken over the pairs scoring at or above a threshold. The threshold is the
one that maximises F1 on the "sample" release (XTREME's dev, our validation:
bucc_optimize) and is applied unchanged to the "training" release (XTREME's
test, the leaderboard's BUCC score). evaluate_retrieval.py loops over
('dev', 'test') and keeps dev's best-threshold for test; as published that
loop passes an undefined `threshold` and reuses one candidates file for both
splits, so the procedure followed here is the one it intends (and LASER's
tasks/bucc/bucc.sh, which it is modelled on, runs: optimise on one release,
extract on the next). Scoring validation reports its own optimum (the dev
score). A result that cannot stand for that score says so in Score.extra
(`comparable` False and `not_comparable`, the reason): a copy holding only
the gold pairs (the hub's "bucc18.<xx>" configs: no distractor sentences, so
precision is inflated), a test score without a validation corpus to take the
threshold from, or corpora cut by max_eval_examples.

Pooling differs from XTREME's BUCC script, which passes --pool_type cls
(the first token of the layer); xlt mean-pools for both retrieval tasks, as
jiant (the X-STILTs toolkit) does and as XTREME's run_tatoeba.sh does.

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

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch

from engine.data.batching import eval_batches
from engine.data.features import Features
from engine.data.loaders import has_split
from engine.data.retrieval_pairs import count_unpaired, split_retrieval_records
from engine.errors import InputError
from engine.kinds.base import Kind, Score, StageContext, pad_rows
from engine.kinds.classification import encode_texts
from engine.metrics.retrieval import (
    Knn,
    bucc_counts_per_source,
    bucc_f1,
    bucc_mine,
    bucc_optimize_threshold,
    l2_normalize,
    tatoeba_accuracy,
    tatoeba_nearest,
)
from engine.models.loading import load_encoder
from engine.predictions import PredictionTable
from engine.tasks.kinds import EMBED_AND_SCORE

# Neighbourhood of the ratio margin: XTREME's mine_bitext(neighborhood=4),
# LASER's default, margin="ratio", retrieval="max".
BUCC_NEIGHBOURS = 4

# The split whose own optimum gives the BUCC threshold (the "sample" release).
BUCC_THRESHOLD_SPLIT = "validation"

# Bytes of query x database similarities held on the device at once.
_SIMILARITY_BUDGET = 1 << 30

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


@contextmanager
def _full_float32() -> Iterator[None]:
    # Exact float32 products, as faiss's flat index: no TF32 even where a
    # caller switched it on (margins of near-ties would move).
    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(before)


def device_knn(device: torch.device, budget_bytes: int = _SIMILARITY_BUDGET) -> Knn:
    """Exact k-nearest-neighbour search by inner product on `device`: the
    same answer as engine.metrics.retrieval.exact_knn (ties aside: topk
    leaves their order open) without a full sort.

    Memory on the device: the database (n_db x dim float32: 400k x 1024 is
    1.6 GB) plus one chunk of similarities, at most `budget_bytes` (1 GiB:
    about 670 query rows against 400k sentences), never n_query x n_db."""

    def search(
        queries: np.ndarray, database: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        sims = np.empty((len(queries), k), dtype=np.float32)
        inds = np.empty((len(queries), k), dtype=np.int64)
        with torch.no_grad(), _full_float32():
            db = torch.from_numpy(np.ascontiguousarray(database)).to(device)
            rows = max(1, budget_bytes // (4 * max(1, len(database))))
            for start in range(0, len(queries), rows):
                chunk = np.ascontiguousarray(queries[start : start + rows])
                block = torch.from_numpy(chunk).to(device) @ db.T
                top = torch.topk(block, k, dim=1, largest=True, sorted=True)
                sims[start : start + len(chunk)] = top.values.cpu().numpy()
                inds[start : start + len(chunk)] = top.indices.cpu().numpy()
        return sims, inds

    return search


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


def tatoeba_pairs(
    source_records, target_records, gold_pairs, n: int
) -> tuple[list[dict], list[dict]]:
    """The first `n` (0: all) translation pairs, source and target aligned
    row by row."""
    src_rows, tgt_rows = _tatoeba_rows(source_records, target_records, gold_pairs)
    src_rows, tgt_rows = _head(src_rows, n), _head(tgt_rows, n)
    return [source_records[i] for i in src_rows], [target_records[i] for i in tgt_rows]


def tatoeba_predictions(source: list[dict], nearest: np.ndarray) -> PredictionTable:
    """One row per pair, XTREME's direction (each English target sentence
    searches the source side): id and gold the pair's source sentence id,
    prediction the source id retrieved, accuracy 0/1 (a fraction, as
    stored)."""
    rows = [
        {
            "id": str(src["id"]),
            "prediction": str(source[int(j)]["id"]),
            "gold": str(src["id"]),
            "accuracy": int(int(j) == i),
        }
        for i, (src, j) in enumerate(zip(source, nearest, strict=True))
    ]
    return PredictionTable({"accuracy": "mean"}, rows)


def bucc_predictions(mined: MinedSplit, threshold: float) -> PredictionTable:
    """One row per source sentence (paired or not): the target ids it
    extracted at `threshold` and its gold ones, and its tp / fp / fn pairs,
    whose sums give the stored F1."""
    ids = [r["id"] for r in mined.corpus.source]
    rows = [
        {
            "id": str(row["source"]),
            "prediction": row["extracted"],
            "gold": row["gold"],
            "tp": row["tp"],
            "fp": row["fp"],
            "fn": row["fn"],
        }
        for row in bucc_counts_per_source(
            mined.candidates, mined.corpus.gold, threshold, ids
        )
    ]
    return PredictionTable(
        {"f1": "f1_counts"}, rows, extra={"threshold": float(threshold)}
    )


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
    threshold: float | None = None,
) -> dict[str, float]:
    """Score one language of a retrieval task.

    `source_records` are the non-English sentences, `target_records` the
    English ones, each `{"id": str, "text": str}`; `gold_pairs` are
    (source_id, target_id). Tatoeba (task.metric "tatoeba_accuracy"): every
    sentence has exactly one translation; gold_pairs may be None when the two
    sides are parallel row by row (XTREME's files). BUCC ("bucc_f1"): sentences
    without a pair are the point; F1 at `threshold`, or, when None, at the
    threshold with the best F1 on these gold pairs (XTREME's dev score; its
    test score takes dev's threshold: EmbeddingTarget does that).

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
        source, target = tatoeba_pairs(source_records, target_records, gold_pairs, n)
        return {"accuracy": tatoeba_accuracy(vectors(source), vectors(target))}

    if gold_pairs is None:
        raise ValueError(f"retrieval task {task.name!r}: BUCC needs gold pairs")
    corpus = BuccCorpus.of(source_records, target_records, gold_pairs, n)
    candidates = bucc_candidates(
        encoder, tokenizer, corpus, layer, hp, runtime, knn=device_knn(runtime.device)
    )
    return bucc_f1(candidates, corpus.gold, threshold)


@dataclass
class BuccCorpus:
    """One split of one language as BUCC mines it: every sentence of both
    sides, the gold pairs among them, and how it differs from the corpus
    XTREME scores."""

    source: list[dict]
    target: list[dict]
    gold: list[tuple[str, str]]
    gold_only: bool
    """No sentence outside the gold pairs: a copy built from them (the hub's)."""
    cut_to: int
    """max_eval_examples when it cut a side short, else 0."""

    @classmethod
    def of(cls, source, target, gold_pairs, n: int) -> BuccCorpus:
        """The first `n` sentences of each side (0: all), gold pairs kept
        where both ends remain."""
        cut = bool(n) and (len(source) > n or len(target) > n)
        source, target = _head(list(source), n), _head(list(target), n)
        kept_src = {r["id"] for r in source}
        kept_tgt = {r["id"] for r in target}
        gold = [(s, t) for s, t in gold_pairs if s in kept_src and t in kept_tgt]
        unpaired = count_unpaired(source, target, gold)
        return cls(source, target, gold, unpaired == (0, 0), n if cut else 0)


def bucc_candidates(
    encoder, tokenizer, corpus: BuccCorpus, layer, hp, runtime, knn: Knn
) -> dict[tuple[Any, Any], float]:
    """Mined pairs with their margin scores over every sentence of the corpus
    (engine.metrics.retrieval.bucc_mine, XTREME's mine_bitext)."""

    def vectors(records: list[dict]) -> np.ndarray:
        return embed(
            encoder,
            tokenizer,
            [r["text"] for r in records],
            layer,
            hp.max_seq_length,
            hp.batch_size * 2,
            runtime,
        )

    return bucc_mine(
        vectors(corpus.source),
        vectors(corpus.target),
        [r["id"] for r in corpus.source],
        [r["id"] for r in corpus.target],
        k=BUCC_NEIGHBOURS,
        src_texts=[r["text"] for r in corpus.source],
        tgt_texts=[r["text"] for r in corpus.target],
        knn=knn,
    )


@dataclass
class MinedSplit:
    corpus: BuccCorpus
    candidates: dict[tuple[Any, Any], float]

    def own_threshold(self) -> float:
        """The threshold with the best F1 on this split's own gold pairs."""
        return bucc_optimize_threshold(self.candidates, self.corpus.gold)


def not_comparable_reasons(
    scored: str,
    corpora: dict[str, BuccCorpus],
    threshold_split: str | None,
) -> list[str]:
    """Why a BUCC score is not XTREME's, one short phrase each (none: it is).
    `corpora` are the splits the score rests on (the scored one and the one
    its threshold came from); `threshold_split` is None when no validation
    corpus was there to give the threshold."""
    reasons = []
    gold_only = [split for split, c in corpora.items() if c.gold_only]
    if gold_only:
        reasons.append(
            f"{' and '.join(gold_only)} data hold only the gold pairs, no "
            "distractor sentences (XTREME mines the full BUCC 2018 corpora)"
        )
    cut = sorted({c.cut_to for c in corpora.values() if c.cut_to})
    if cut:
        reasons.append(
            f"only the first {cut[0]} sentences of each side (max_eval_examples)"
        )
    if threshold_split is None:
        reasons.append(
            f"threshold chosen on the {scored} gold pairs themselves (no "
            f"{BUCC_THRESHOLD_SPLIT} corpus to take it from)"
        )
    return reasons


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
        # BUCC's validation mining per language: the test threshold comes
        # from it, and scoring validation too must not mine it twice.
        self._threshold_mining: dict[str, MinedSplit] = {}

    def score(self, language: str, split: str) -> Score:
        if self.stage.target_task.metric == "bucc_f1":
            return self._score_bucc(language, split)
        task, ctx, hp = self.stage.target_task, self.ctx, self.stage.hparams
        if task.metric != "tatoeba_accuracy":
            raise ValueError(
                f"retrieval task {task.name!r}: unknown metric {task.metric!r}"
            )
        source, target = tatoeba_pairs(
            *split_retrieval_records(ctx.records(task, split, language)),
            hp.max_eval_examples,
        )

        def vectors(records: list[dict]) -> np.ndarray:
            texts = [r["text"] for r in records]
            return embed(
                self.encoder,
                ctx.tokenizer,
                texts,
                self.layer,
                hp.max_seq_length,
                hp.batch_size * 2,
                ctx.runtime,
            )

        # As evaluate_retrieval's Tatoeba accuracy, keeping each query's pick.
        nearest = tatoeba_nearest(vectors(source), vectors(target))
        accuracy = float(np.mean(nearest == np.arange(len(nearest))))
        return Score(
            language,
            split,
            {"accuracy": accuracy},
            len(source),
            predictions=tatoeba_predictions(source, nearest),
        )

    def _mine(self, language: str, split: str) -> MinedSplit:
        task, ctx = self.stage.target_task, self.ctx
        source, target, gold = split_retrieval_records(
            ctx.records(task, split, language)
        )
        corpus = BuccCorpus.of(
            source, target, gold, self.stage.hparams.max_eval_examples
        )
        candidates = bucc_candidates(
            self.encoder,
            ctx.tokenizer,
            corpus,
            self.layer,
            self.stage.hparams,
            ctx.runtime,
            knn=device_knn(ctx.runtime.device),
        )
        return MinedSplit(corpus, candidates)

    def _threshold_split(self, language: str, scored: str) -> MinedSplit | None:
        """The validation ("sample") corpus mined, or None if there is none;
        `scored` is the split whose score needs it."""
        task = self.stage.target_task
        if language not in self._threshold_mining:
            if not has_split(task, BUCC_THRESHOLD_SPLIT, language):
                return None
            try:
                self._threshold_mining[language] = self._mine(
                    language, BUCC_THRESHOLD_SPLIT
                )
            except InputError as exc:
                if scored == BUCC_THRESHOLD_SPLIT:
                    raise
                raise InputError(
                    f"{task.name} ({language}): the {scored} threshold is chosen "
                    f"on the {BUCC_THRESHOLD_SPLIT} ('sample') corpus, which "
                    f"could not be read: {exc}"
                ) from None
        return self._threshold_mining[language]

    def _score_bucc(self, language: str, split: str) -> Score:
        """F1 at the threshold chosen on validation (XTREME's test score), or
        at validation's own optimum when validation is scored (its dev
        score). Score.extra says where the threshold came from and whether
        the score stands for XTREME's."""
        dev: MinedSplit | None
        if split == BUCC_THRESHOLD_SPLIT:
            mined = dev = self._threshold_split(language, split) or self._mine(
                language, split
            )
        else:
            mined = self._mine(language, split)
            dev = self._threshold_split(language, split)
        if dev is None:
            threshold, threshold_from = mined.own_threshold(), split
            corpora = {split: mined.corpus}
        else:
            threshold, threshold_from = dev.own_threshold(), BUCC_THRESHOLD_SPLIT
            corpora = {BUCC_THRESHOLD_SPLIT: dev.corpus, split: mined.corpus}
        metrics = bucc_f1(mined.candidates, mined.corpus.gold, threshold)
        reasons = not_comparable_reasons(
            split, corpora, None if dev is None else BUCC_THRESHOLD_SPLIT
        )
        extra: dict[str, Any] = {
            "threshold": metrics["threshold"],
            "threshold_from": threshold_from,
            "comparable": not reasons,
        }
        if reasons:
            extra["not_comparable"] = "; ".join(reasons)
        return Score(
            language,
            split,
            metrics,
            len(mined.corpus.source),
            extra=extra,
            predictions=bucc_predictions(mined, metrics["threshold"]),
        )


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
