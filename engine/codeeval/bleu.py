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
from collections.abc import Sequence

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
    matches = [0] * max_order
    possible = [0] * max_order
    hyp_length = ref_length = 0
    for hyp, ref in zip(hypotheses, references, strict=True):
        hyp_length += len(hyp)
        ref_length += len(ref)
        overlap = _ngrams(hyp, max_order) & _ngrams(ref, max_order)
        for ngram, count in overlap.items():
            matches[len(ngram) - 1] += count
        for order in range(1, max_order + 1):
            possible[order - 1] += max(0, len(hyp) - order + 1)
    precisions = [
        m / p if p > 0 else 0.0 for m, p in zip(matches, possible, strict=True)
    ]
    if min(precisions) <= 0:
        return 0.0
    geo_mean = math.exp(sum(math.log(p) for p in precisions) / max_order)
    if hyp_length == 0:
        return 0.0
    ratio = hyp_length / ref_length if ref_length else float("inf")
    brevity = 1.0 if ratio > 1.0 else math.exp(1 - 1 / ratio)
    return geo_mean * brevity


def code_bleu(predictions: Sequence[str], references: Sequence[str]) -> float:
    """MCoNaLa/CoNaLa BLEU (a fraction in [0, 1]) of code snippets."""
    return corpus_bleu_tokens(
        [tokenize_for_bleu_eval(p) for p in predictions],
        [tokenize_for_bleu_eval(r) for r in references],
    )
