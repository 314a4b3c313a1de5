"""Sentence-retrieval metrics over sentence embeddings: Tatoeba accuracy and
BUCC 2018 bitext mining F1, as XTREME computes them (third_party/
evaluate_retrieval.py and third_party/utils_retrieve.py, themselves LASER's
recipe). numpy only; XTREME uses faiss, whose flat indexes do the same exact
search in float32, which is the precision used here.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np

# Query rows x database rows of similarities computed at once: 2**24 float32
# (64 MiB) plus as many int64 for the partial sort, whatever the corpus size.
_BLOCK_ELEMENTS = 1 << 24

Knn = Callable[[np.ndarray, np.ndarray, int], tuple[np.ndarray, np.ndarray]]
"""(queries, database, k) -> (sims, indices), k best inner products per query
row, best first: `exact_knn`, or a device search such as
engine.kinds.retrieval.device_knn."""


def _as_matrix(embeddings, name: str) -> np.ndarray:
    array = np.asarray(embeddings, dtype=np.float32)
    if array.ndim != 2 or array.shape[0] == 0:
        raise ValueError(
            f"{name} must be a non-empty 2-D array, got shape {array.shape}"
        )
    return array


def l2_normalize(embeddings) -> np.ndarray:
    """Rows scaled to unit length; all-zero rows stay zero (as faiss.normalize_L2)."""
    array = np.asarray(embeddings, dtype=np.float32)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return array / np.where(norms > 0, norms, 1.0)


def cosine_similarity(a, b) -> np.ndarray:
    """Cosine similarity of every row of `a` with every row of `b`: shape
    (len(a), len(b)). A zero vector has similarity 0 with everything."""
    a = np.atleast_2d(np.asarray(a, dtype=np.float64))
    b = np.atleast_2d(np.asarray(b, dtype=np.float64))
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"dimensions differ: {a.shape[1]} vs {b.shape[1]}")
    a_norm = np.linalg.norm(a, axis=1, keepdims=True)
    b_norm = np.linalg.norm(b, axis=1, keepdims=True)
    a = a / np.where(a_norm > 0, a_norm, 1.0)
    b = b / np.where(b_norm > 0, b_norm, 1.0)
    return a @ b.T


def _blocks(n_rows: int, n_cols: int) -> Iterable[slice]:
    step = max(1, _BLOCK_ELEMENTS // max(1, n_cols))
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


def exact_knn(
    queries: np.ndarray, database: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k inner products of each (unit) query row: (sims, indices), best
    first, exact in float32 as faiss's IndexFlatIP. Ties go to the lower
    database index. A partial sort per block (argpartition, then the k kept
    sorted): O(n_db) per query, not O(n_db log n_db)."""
    n_db = len(database)
    sims = np.empty((len(queries), k), dtype=np.float32)
    inds = np.empty((len(queries), k), dtype=np.int64)
    for rows in _blocks(len(queries), n_db):
        block = queries[rows] @ database.T
        if k < n_db:
            part = np.argpartition(-block, k - 1, axis=1)[:, :k]
            part_sims = np.take_along_axis(block, part, axis=1)
            order = np.lexsort((part, -part_sims), axis=1)
            top = np.take_along_axis(part, order, axis=1)
            # argpartition picks arbitrarily among values tied with the k-th:
            # those rows are sorted whole so the lower index wins.
            kth = np.take_along_axis(block, top[:, -1:], axis=1)
            tied = (block == kth).sum(axis=1) > (
                np.take_along_axis(block, top, axis=1) == kth
            ).sum(axis=1)
            for r in np.flatnonzero(tied):
                top[r] = np.argsort(-block[r], kind="stable")[:k]
        else:
            top = np.argsort(-block, axis=1, kind="stable")[:, :k]
        inds[rows] = top
        sims[rows] = np.take_along_axis(block, top, axis=1)
    return sims, inds


def tatoeba_accuracy(
    src_emb, tgt_emb, query: Literal["target", "source"] = "target"
) -> float:
    """Fraction of sentences whose nearest neighbour (cosine) on the other side
    is their own translation; row i of `src_emb` and row i of `tgt_emb` are a
    pair.

    XTREME's direction is the default: its tatoeba evaluation calls
    ``similarity_search(x=src, y=tgt)``, which indexes the source
    (non-English) sentences and searches them with each target (English)
    sentence, on L2-normalised vectors (L2 ranking = cosine ranking). So each
    *target* row is a query and is right when its nearest source row has the
    same index. ``query="source"`` searches the other way (each source row
    among all targets). Ties go to the lower index.
    """
    nearest = tatoeba_nearest(src_emb, tgt_emb, query)
    return float(np.mean(nearest == np.arange(len(nearest))))


def tatoeba_nearest(
    src_emb, tgt_emb, query: Literal["target", "source"] = "target"
) -> np.ndarray:
    """Per query row (as `tatoeba_accuracy` reads them), the row it retrieves
    on the other side; query i is right when it retrieves row i."""
    src = l2_normalize(_as_matrix(src_emb, "src_emb"))
    tgt = l2_normalize(_as_matrix(tgt_emb, "tgt_emb"))
    if src.shape != tgt.shape:
        raise ValueError(
            f"src_emb {src.shape} and tgt_emb {tgt.shape} must be row-aligned pairs"
        )
    if query == "target":
        queries, database = tgt, src
    elif query == "source":
        queries, database = src, tgt
    else:
        raise ValueError(f"query must be 'target' or 'source', got {query!r}")
    _, nearest = exact_knn(queries, database, 1)
    return np.asarray(nearest[:, 0], dtype=np.int64)


def margin_scores(
    src_emb, tgt_emb, k: int = 4, knn: Knn = exact_knn
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ratio-margin scores of each side's k nearest neighbours (Artetxe &
    Schwenk 2019), as XTREME's mine_bitext computes them::

        score(x, y) = cos(x, y) / ((mean_{z in kNN_tgt(x)} cos(x, z)
                                    + mean_{z in kNN_src(y)} cos(y, z)) / 2)

    i.e. cos(x, y) / (sum_fwd / 2k + sum_bwd / 2k), with k capped at the other
    side's size. Returns (fwd_scores, fwd_inds, bwd_scores, bwd_inds): row i of
    fwd_* holds source i's k target candidates and their scores, row j of
    bwd_* target j's k source candidates. `knn` does the two searches
    (default: `exact_knn`, numpy on the CPU).
    """
    x = l2_normalize(_as_matrix(src_emb, "src_emb"))
    y = l2_normalize(_as_matrix(tgt_emb, "tgt_emb"))
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"dimensions differ: {x.shape[1]} vs {y.shape[1]}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    fwd_sims, fwd_inds = knn(x, y, min(len(y), k))
    bwd_sims, bwd_inds = knn(y, x, min(len(x), k))
    fwd_mean = fwd_sims.mean(axis=1)
    bwd_mean = bwd_sims.mean(axis=1)
    # A zero denominator gives inf/NaN, as in the reference; mining drops those.
    with np.errstate(divide="ignore", invalid="ignore"):
        fwd_scores = fwd_sims / ((fwd_mean[:, None] + bwd_mean[fwd_inds]) / 2)
        bwd_scores = bwd_sims / ((bwd_mean[:, None] + fwd_mean[bwd_inds]) / 2)
    return fwd_scores, fwd_inds, bwd_scores, bwd_inds


def _unify(texts: Sequence[str]) -> tuple[list[int], list[int]]:
    """XTREME's text_load_unify + unique_embeddings: identical sentences are
    mined once. Returns (row -> unique index, unique index -> row kept); the
    row kept is the last occurrence, as unique_embeddings does."""
    first: dict[str, int] = {}
    row_to_unique = [first.setdefault(t, len(first)) for t in texts]
    kept = [0] * len(first)
    for row, unique in enumerate(row_to_unique):
        kept[unique] = row
    return row_to_unique, kept


def bucc_mine(
    src_emb,
    tgt_emb,
    src_ids: Sequence[Hashable],
    tgt_ids: Sequence[Hashable],
    k: int = 4,
    src_texts: Sequence[str] | None = None,
    tgt_texts: Sequence[str] | None = None,
    knn: Knn = exact_knn,
) -> dict[tuple[Hashable, Hashable], float]:
    """Candidate sentence pairs with their margin scores, as XTREME's
    mine_bitext(mode="mine", retrieval="max", margin="ratio", threshold=0,
    neighborhood=k) followed by read_candidate2score.

    Each source sentence's best target (highest margin among its k nearest
    targets) and each target's best source form the candidate list ("max"
    retrieval: forward and backward together). Candidates are taken greedily
    by falling score, skipping one whose source or target is already used, so
    every sentence appears in at most one pair; pairs scoring <= 0 are dropped.

    With `src_texts`/`tgt_texts` (the sentences, one per row), XTREME's text
    handling is reproduced too: identical sentences are mined once, and a pair
    whose sentence occurs more than once on its side is dropped when mapping
    back to ids (its id is ambiguous). Without them every row is its own
    sentence. `knn` is the nearest-neighbour search (margin_scores).
    Returns {(src_id, tgt_id): score}.
    """
    if len(src_ids) != len(src_emb) or len(tgt_ids) != len(tgt_emb):
        raise ValueError("src_ids/tgt_ids must have one id per embedding row")
    x = _as_matrix(src_emb, "src_emb")
    y = _as_matrix(tgt_emb, "tgt_emb")

    def resolve(texts, ids, side):
        """Rows to mine and, per mined row, its id (None when ambiguous)."""
        if texts is None:
            return list(range(len(ids))), list(ids)
        if len(texts) != len(ids):
            raise ValueError(f"{side}_texts must have one sentence per row")
        row_to_unique, kept = _unify(texts)
        counts: dict[int, int] = {}
        for unique in row_to_unique:
            counts[unique] = counts.get(unique, 0) + 1
        unique_ids = [
            ids[row] if counts[u] == 1 else None for u, row in enumerate(kept)
        ]
        return kept, unique_ids

    src_rows, src_unique_ids = resolve(src_texts, src_ids, "src")
    tgt_rows, tgt_unique_ids = resolve(tgt_texts, tgt_ids, "tgt")
    fwd_scores, fwd_inds, bwd_scores, bwd_inds = margin_scores(
        x[src_rows], y[tgt_rows], k, knn
    )
    n_src, n_tgt = len(src_rows), len(tgt_rows)
    fwd_best = fwd_inds[np.arange(n_src), fwd_scores.argmax(axis=1)]
    bwd_best = bwd_inds[np.arange(n_tgt), bwd_scores.argmax(axis=1)]
    pairs = np.stack(
        (
            np.concatenate((np.arange(n_src), bwd_best)),
            np.concatenate((fwd_best, np.arange(n_tgt))),
        ),
        axis=1,
    )
    scores = np.concatenate((fwd_scores.max(axis=1), bwd_scores.max(axis=1)))

    candidates: dict[tuple[Hashable, Hashable], float] = {}
    seen_src: set[int] = set()
    seen_tgt: set[int] = set()
    # Same ordering call as the reference, ties included.
    for i in np.argsort(-scores):
        s, t = int(pairs[i, 0]), int(pairs[i, 1])
        if s in seen_src or t in seen_tgt:
            continue
        seen_src.add(s)
        seen_tgt.add(t)
        score = float(scores[i])
        if not score > 0:  # the reference keeps scores > threshold (0); NaN fails
            continue
        src_id, tgt_id = src_unique_ids[s], tgt_unique_ids[t]
        if src_id is None or tgt_id is None:
            continue
        key = (src_id, tgt_id)
        candidates[key] = max(score, candidates.get(key, score))
    return candidates


def _prf(n_correct: int, n_extracted: int, n_gold: int) -> tuple[float, float, float]:
    if n_correct == 0:
        return 0.0, 0.0, 0.0
    precision = n_correct / n_extracted
    recall = n_correct / n_gold
    return precision, recall, 2 * precision * recall / (precision + recall)


def bucc_optimize_threshold(
    candidates: Mapping[tuple[Hashable, Hashable], float],
    gold_pairs: Iterable[tuple[Hashable, Hashable]],
) -> float:
    """XTREME's bucc_optimize: walk the candidates by falling score; whenever
    F1 of "everything so far" beats the best, put the threshold halfway to the
    next candidate's score. 0 when no candidate is correct.

    One departure: when the best F1 is reached at the very last candidate the
    reference indexes past the end of its list (IndexError); here the
    threshold is then that candidate's own score, which keeps every candidate.
    """
    gold = set(gold_pairs)
    items = sorted(candidates.items(), key=lambda item: -item[1])
    n_extracted = n_correct = 0
    threshold = 0.0
    best_f1 = 0.0
    for i, (pair, score) in enumerate(items):
        n_extracted += 1
        n_correct += pair in gold
        if n_correct:
            f1 = _prf(n_correct, n_extracted, len(gold))[2]
            if f1 > best_f1:
                best_f1 = f1
                following = items[i + 1][1] if i + 1 < len(items) else score
                threshold = (score + following) / 2
    return threshold


def bucc_f1(
    candidates_with_scores: Mapping[tuple[Hashable, Hashable], float],
    gold_pairs: Iterable[tuple[Hashable, Hashable]],
    threshold: float | None = None,
) -> dict[str, float]:
    """Precision, recall and F1 of the candidate pairs scoring >= `threshold`
    against the gold pairs (XTREME's bucc_eval / bucc_extract).

    With no threshold it is chosen to maximise F1 *on these same gold pairs*
    (bucc_optimize_threshold): XTREME's dev score (bucc_eval on the "sample"
    release). Its test score takes the threshold found on dev, unchanged
    (third_party/evaluate_retrieval.py mines 'dev' then 'test' and keeps
    dev's best-threshold; the test gold is hidden): pass it as `threshold`.
    """
    gold = set(gold_pairs)
    if threshold is None:
        threshold = bucc_optimize_threshold(candidates_with_scores, gold)
    extracted = [pair for pair, s in candidates_with_scores.items() if s >= threshold]
    n_correct = len(gold.intersection(extracted))
    precision, recall, f1 = _prf(n_correct, len(extracted), len(gold))
    return {
        "f1": f1,
        "precision": precision,
        "recall": recall,
        "threshold": float(threshold),
    }


def bucc_counts_per_source(
    candidates_with_scores: Mapping[tuple[Hashable, Hashable], float],
    gold_pairs: Iterable[tuple[Hashable, Hashable]],
    threshold: float,
    source_ids: Sequence[Hashable],
) -> list[dict[str, Any]]:
    """`bucc_f1` at `threshold` broken down by source sentence: the target ids
    it extracted and its gold ones, and tp / fp / fn pairs. Summed over
    `source_ids` (every source sentence of the corpus) they are bucc_f1's
    counts, so F1 = 2 tp / (2 tp + fp + fn)."""
    extracted: dict[Hashable, list[Hashable]] = {s: [] for s in source_ids}
    gold: dict[Hashable, list[Hashable]] = {s: [] for s in source_ids}
    for (src, tgt), score in candidates_with_scores.items():
        if score >= threshold:
            extracted[src].append(tgt)
    for src, tgt in set(gold_pairs):
        gold[src].append(tgt)
    rows = []
    for src in source_ids:
        found, wanted = extracted[src], gold[src]
        tp = len(set(found) & set(wanted))
        rows.append(
            {
                "source": src,
                "extracted": sorted(map(str, found)),
                "gold": sorted(map(str, wanted)),
                "tp": tp,
                "fp": len(found) - tp,
                "fn": len(wanted) - tp,
            }
        )
    return rows
