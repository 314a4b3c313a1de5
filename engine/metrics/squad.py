"""SQuAD exact match and token F1, as the official SQuAD scripts compute them.

`squad_v1` follows the SQuAD v1.1 evaluation script (evaluate-v1.1.py, the one
XTREME downloads as third_party/evaluate_squad.py and uses for XQuAD and
TyDiQA-GoldP). `squad_v2` follows the SQuAD v2.0 evaluation script
(evaluate-v2.0.py): unanswerable questions, the HasAns/NoAns breakdown, the
no-answer probability threshold and its best-threshold search.

Values are fractions in [0, 1]; the official scripts print percentages.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def normalize_answer(text: str) -> str:
    """Lower-case, drop ASCII punctuation, drop the articles a/an/the, collapse
    whitespace: in that order, as the official script does (so "the." loses its
    dot first and then is removed as an article)."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match_score(prediction: str, ground_truth: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(ground_truth))


def f1_score(prediction: str, ground_truth: str) -> float:
    """Token F1 over the normalised answers (v1.1 rules: no overlap gives 0,
    including when both sides normalise to nothing)."""
    return token_f1(
        normalize_answer(prediction).split(), normalize_answer(ground_truth).split()
    )


def token_f1(prediction_tokens: Sequence[str], gold_tokens: Sequence[str]) -> float:
    """F1 of two token bags; common tokens counted with multiplicity."""
    common = Counter(prediction_tokens) & Counter(gold_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(prediction_tokens)
    recall = num_same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def max_over_ground_truths(
    metric: Callable[[str, str], float], prediction: str, ground_truths: Sequence[str]
) -> float:
    return max(metric(prediction, gold) for gold in ground_truths)


def squad_v1(
    predictions: Mapping[str, str], references: Mapping[str, Sequence[str]]
) -> dict[str, float]:
    """SQuAD v1.1 exact match and F1, each the best over a question's gold answers.

    `references` maps every question id to its gold answer texts and is the set
    scored: a question without a prediction scores 0 (the official script warns
    and counts it), a prediction for an id not in `references` is ignored.
    """
    if not references:
        raise ValueError("no questions to score")
    exact_match = f1 = 0.0
    for qid, golds in references.items():
        if not golds:
            raise ValueError(
                f"question {qid!r} has no gold answer; SQuAD v1.1 needs at least one "
                "(use squad_v2 for unanswerable questions)"
            )
        if qid not in predictions:
            continue
        prediction = predictions[qid]
        exact_match += max_over_ground_truths(exact_match_score, prediction, golds)
        f1 += max_over_ground_truths(f1_score, prediction, golds)
    total = len(references)
    return {"exact_match": exact_match / total, "f1": f1 / total}


# TyDiQA-GoldP is scored in XTREME with the SQuAD v1.1 script (evaluate.py maps
# tydiqa to squad_em_f1, like xquad), not with TyDi QA's own primary-task metric.
tydiqa = squad_v1


def _v2_tokens(text: str) -> list[str]:
    return normalize_answer(text).split() if text else []


def _v2_exact(gold: str, prediction: str) -> float:
    return float(normalize_answer(gold) == normalize_answer(prediction))


def _v2_f1(gold: str, prediction: str) -> float:
    gold_tokens = _v2_tokens(gold)
    pred_tokens = _v2_tokens(prediction)
    if not gold_tokens or not pred_tokens:
        # Either side is "no answer": 1 when both are, 0 otherwise.
        return float(gold_tokens == pred_tokens)
    return token_f1(pred_tokens, gold_tokens)


def _best_threshold(
    predictions: Mapping[str, str],
    scores: Mapping[str, float],
    na_probs: Mapping[str, float],
    has_answer: Mapping[str, bool],
) -> tuple[float, float]:
    """The official find_best_thresh: walk questions by rising no-answer
    probability, answering each one more; keep the best total score."""
    current = best = float(sum(1 for v in has_answer.values() if not v))
    best_threshold = 0.0
    for qid in sorted(na_probs, key=lambda k: na_probs[k]):
        if qid not in scores:
            continue
        if has_answer[qid]:
            diff = scores[qid]
        else:
            # The raw prediction text decides, not its normalised form.
            diff = -1.0 if predictions[qid] else 0.0
        current += diff
        if current > best:
            best = current
            best_threshold = na_probs[qid]
    return best / len(scores), best_threshold


def squad_v2(
    predictions: Mapping[str, str],
    references: Mapping[str, Sequence[str]],
    na_probs: Mapping[str, float] | None = None,
    na_prob_thresh: float = 1.0,
) -> dict[str, float]:
    """SQuAD v2.0 exact match and F1 with unanswerable questions.

    `references[qid]` is the list of gold texts, empty for an unanswerable
    question; gold texts that normalise to nothing are dropped and a question
    left with none has the single gold "" (the official rule). A prediction ""
    means "no answer". F1 is 1 when gold and prediction are both empty, 0 when
    exactly one is.

    `na_probs` (optional) gives each question's no-answer probability: above
    `na_prob_thresh` the prediction is taken as "no answer". With `na_probs`,
    the best-threshold search of the official script is run too and reported
    as best_exact_match / best_exact_match_thresh / best_f1 / best_f1_thresh.

    Returns exact_match and f1 over all questions, plus has_answer_* and
    no_answer_* over each subset that is not empty (as the official script
    reports HasAns_* and NoAns_*). Every question needs a prediction: the
    official script fails on a missing one (KeyError in the HasAns/NoAns
    breakdown), here that is a ValueError that names them.
    """
    if not references:
        raise ValueError("no questions to score")
    missing = [qid for qid in references if qid not in predictions]
    if missing:
        raise ValueError(
            f"{len(missing)} question(s) have no prediction, e.g. {missing[:3]}; "
            'SQuAD v2 needs one for every question ("" for no answer)'
        )
    if na_probs is not None:
        missing = [qid for qid in references if qid not in na_probs]
        if missing:
            raise ValueError(
                f"{len(missing)} question(s) have no no-answer probability, "
                f"e.g. {missing[:3]}"
            )
    probs = na_probs if na_probs is not None else dict.fromkeys(predictions, 0.0)

    # HasAns is decided on the raw answer list, before normalisation.
    has_answer = {qid: bool(golds) for qid, golds in references.items()}
    exact_raw: dict[str, float] = {}
    f1_raw: dict[str, float] = {}
    for qid, golds in references.items():
        kept = [g for g in golds if normalize_answer(g)] or [""]
        prediction = predictions[qid]
        exact_raw[qid] = max(_v2_exact(g, prediction) for g in kept)
        f1_raw[qid] = max(_v2_f1(g, prediction) for g in kept)

    def thresholded(scores: dict[str, float]) -> dict[str, float]:
        return {
            qid: float(not has_answer[qid]) if probs[qid] > na_prob_thresh else s
            for qid, s in scores.items()
        }

    exact = thresholded(exact_raw)
    f1 = thresholded(f1_raw)

    def mean(scores: dict[str, float], qids: Sequence[str]) -> float:
        return sum(scores[q] for q in qids) / len(qids)

    everything = list(references)
    result = {"exact_match": mean(exact, everything), "f1": mean(f1, everything)}
    for prefix, wanted in (("has_answer", True), ("no_answer", False)):
        qids = [q for q in everything if has_answer[q] is wanted]
        if qids:
            result[f"{prefix}_exact_match"] = mean(exact, qids)
            result[f"{prefix}_f1"] = mean(f1, qids)
    if na_probs is not None:
        best_exact, exact_threshold = _best_threshold(
            predictions, exact_raw, na_probs, has_answer
        )
        best_f1, f1_threshold = _best_threshold(
            predictions, f1_raw, na_probs, has_answer
        )
        result["best_exact_match"] = best_exact
        result["best_exact_match_thresh"] = exact_threshold
        result["best_f1"] = best_f1
        result["best_f1_thresh"] = f1_threshold
    return result
