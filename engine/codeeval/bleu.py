"""BLEU on code tokens, as CoNaLa and MCoNaLa score generated snippets.

Tokenisation: the CoNaLa evaluation's `tokenize_for_bleu_eval` (conala-corpus/
conala-baseline, eval/conala_eval.py; from Wang Ling et al. 2016, "Latent
Predictor Networks for Code Generation"): every character that is not a
letter, digit or underscore is a token of its own, camelCase is split at the
case change, whitespace separates, and both quote characters become a
backtick. MCoNaLa (Wang et al. 2023) scores with the same tokenizer and the
same corpus BLEU.

Score: corpus BLEU with up to 4-grams, uniform weights, no smoothing, brevity
penalty against the (single) reference, as `compute_bleu` in the TensorFlow
NMT `bleu.py` that both evaluations call (`smooth=False`). This equals
sacrebleu's corpus BLEU on the same tokens joined by spaces with
tokenize="none" and smooth_method="none" (tests/test_codeeval_passk.py checks
it). Returned as a fraction in [0, 1], as xlt stores every score; the papers
print it x100.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence

_NOT_WORD = re.compile(r"([^A-Za-z0-9_])")
_CAMEL = re.compile(r"([a-z])([A-Z])")
_SPACES = re.compile(r"\s+")


def tokenize_for_bleu_eval(code: str) -> list[str]:
    """CoNaLa's code tokenizer (see the module docstring)."""
    code = _NOT_WORD.sub(r" \1 ", code)
    code = _CAMEL.sub(r"\1 \2", code)
    code = _SPACES.sub(" ", code)
    code = code.replace('"', "`").replace("'", "`")
    return [token for token in code.split(" ") if token]


def _ngrams(tokens: Sequence[str], max_order: int) -> Counter:
    counts: Counter = Counter()
    for order in range(1, max_order + 1):
        for i in range(len(tokens) - order + 1):
            counts[tuple(tokens[i : i + order])] += 1
    return counts


def bleu_statistics(
    hypothesis: Sequence[str], reference: Sequence[str], max_order: int = 4
) -> dict[str, int]:
    """One segment's sufficient statistics: clipped n-gram matches and
    possible n-grams per order (match_1.., total_1..), hyp_len and ref_len.
    Summed over segments they give back the corpus BLEU (`bleu_of`)."""
    overlap = _ngrams(hypothesis, max_order) & _ngrams(reference, max_order)
    stats = {f"match_{order}": 0 for order in range(1, max_order + 1)}
    for ngram, count in overlap.items():
        stats[f"match_{len(ngram)}"] += count
    for order in range(1, max_order + 1):
        stats[f"total_{order}"] = max(0, len(hypothesis) - order + 1)
    stats["hyp_len"] = len(hypothesis)
    stats["ref_len"] = len(reference)
    return stats


def bleu_of(sums: Mapping[str, float], max_order: int = 4) -> float:
    """Corpus BLEU (unsmoothed, brevity penalty) of summed `bleu_statistics`."""
    precisions = [
        sums[f"match_{o}"] / sums[f"total_{o}"] if sums[f"total_{o}"] > 0 else 0.0
        for o in range(1, max_order + 1)
    ]
    if min(precisions) <= 0:
        return 0.0
    geo_mean = math.exp(sum(math.log(p) for p in precisions) / max_order)
    hyp_length, ref_length = sums["hyp_len"], sums["ref_len"]
    if hyp_length == 0:
        return 0.0
    ratio = hyp_length / ref_length if ref_length else float("inf")
    brevity = 1.0 if ratio > 1.0 else math.exp(1 - 1 / ratio)
    return geo_mean * brevity


def corpus_bleu_tokens(
    hypotheses: Sequence[Sequence[str]],
    references: Sequence[Sequence[str]],
    max_order: int = 4,
) -> float:
    """Corpus BLEU of tokenised hypotheses against one tokenised reference each."""
    if len(hypotheses) != len(references):
        raise ValueError(
            f"BLEU: {len(hypotheses)} hypotheses but {len(references)} references"
        )
    sums: Counter = Counter()
    keys = [f"{k}_{o}" for k in ("match", "total") for o in range(1, max_order + 1)]
    sums.update(dict.fromkeys([*keys, "hyp_len", "ref_len"], 0))
    for hyp, ref in zip(hypotheses, references, strict=True):
        sums.update(bleu_statistics(hyp, ref, max_order))
    return bleu_of(sums, max_order)


def code_bleu(predictions: Sequence[str], references: Sequence[str]) -> float:
    """MCoNaLa/CoNaLa BLEU (a fraction in [0, 1]) of code snippets."""
    return corpus_bleu_tokens(
        [tokenize_for_bleu_eval(p) for p in predictions],
        [tokenize_for_bleu_eval(r) for r in references],
    )
