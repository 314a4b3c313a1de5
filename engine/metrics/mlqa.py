"""MLQA exact match and F1, as MLQA's official mlqa_evaluation_v1.py computes them.

The same recipe as SQuAD v1.1 with the normalisation made language-aware:

- punctuation: ASCII punctuation and every Unicode character whose category
  starts with "P" (so «», ¿, 。, 、 and ، are removed too);
- articles, per answer language (removed after punctuation, as words, with
  \\b boundaries): en a|an|the; es un|una|unos|unas|el|la|los|las;
  de ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des;
  vi của|là|cái|chiếc|những; hi and zh none;
- ar: the official pattern is ``\\sال^|ال``. Its first branch can never match
  (``^`` after consumed characters), so in effect *every* "ال" in the text,
  wherever it sits in a word, becomes a space. That is reproduced as is, since
  it is what published MLQA numbers were computed with;
- tokens: whitespace split, except zh, where each character in U+4E00..U+9FA5
  and each punctuation character is a token of its own and runs of other
  characters are whitespace-split (mixed_segmentation).

XTREME scores MLQA with this script and its XQuAD/TyDiQA with SQuAD v1.1.
Values are fractions in [0, 1]; the official script prints percentages.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Mapping, Sequence

from engine.metrics.squad import token_f1

WHITESPACE_LANGUAGES = ("en", "es", "hi", "vi", "de", "ar")
MIXED_SEGMENTATION_LANGUAGES = ("zh",)
LANGUAGES = WHITESPACE_LANGUAGES + MIXED_SEGMENTATION_LANGUAGES

_ASCII_PUNCTUATION = frozenset(string.punctuation)
_CJK = re.compile("[\u4e00-\u9fa5]")
_ARTICLES = {
    "en": re.compile(r"\b(a|an|the)\b"),
    "es": re.compile(r"\b(un|una|unos|unas|el|la|los|las)\b"),
    "vi": re.compile(r"\b(của|là|cái|chiếc|những)\b"),
    "de": re.compile(r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b"),
    # Kept exactly as the official script has it; see the module docstring.
    "ar": re.compile(r"\sال^|ال"),
}


def is_punctuation(char: str) -> bool:
    """MLQA's PUNCT set: string.punctuation plus Unicode categories P*."""
    return char in _ASCII_PUNCTUATION or unicodedata.category(char).startswith("P")


def mixed_segmentation(text: str) -> list[str]:
    """Chinese tokens: one per CJK character or punctuation character; the
    characters between them are split on whitespace."""
    tokens: list[str] = []
    pending = ""
    for char in text:
        if _CJK.search(char) or is_punctuation(char):
            if pending:
                tokens.extend(pending.split())
                pending = ""
            tokens.append(char)
        else:
            pending += char
    if pending:
        tokens.extend(pending.split())
    return tokens


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise ValueError(
            f"unknown MLQA answer language {language!r}; expected one of "
            f"{', '.join(LANGUAGES)}"
        )


def normalize_answer(text: str, language: str) -> str:
    """Lower, remove punctuation, remove articles, re-tokenise and join with
    single spaces (so for zh every CJK character ends up space-separated)."""
    _check_language(language)
    text = text.lower()
    text = "".join(ch for ch in text if not is_punctuation(ch))
    articles = _ARTICLES.get(language)
    if articles is not None:
        text = articles.sub(" ", text)
    if language in MIXED_SEGMENTATION_LANGUAGES:
        tokens = mixed_segmentation(text)
    else:
        tokens = text.split()
    return " ".join(t for t in tokens if t.strip())


def exact_match_score(prediction: str, ground_truth: str, language: str) -> float:
    return float(
        normalize_answer(prediction, language)
        == normalize_answer(ground_truth, language)
    )


def f1_score(prediction: str, ground_truth: str, language: str) -> float:
    return token_f1(
        normalize_answer(prediction, language).split(),
        normalize_answer(ground_truth, language).split(),
    )


def mlqa(
    predictions: Mapping[str, str],
    references: Mapping[str, Sequence[str]],
    language: str,
) -> dict[str, float]:
    """MLQA exact match and F1 for answers in `language` (the *context*
    language, which MLQA calls the answer language), each the best over a
    question's gold answers. A question without a prediction scores 0; ids not
    in `references` are ignored."""
    _check_language(language)
    if not references:
        raise ValueError("no questions to score")
    exact_match = f1 = 0.0
    for qid, golds in references.items():
        if not golds:
            raise ValueError(f"question {qid!r} has no gold answer")
        if qid not in predictions:
            continue
        prediction = predictions[qid]
        exact_match += max(exact_match_score(prediction, g, language) for g in golds)
        f1 += max(f1_score(prediction, g, language) for g in golds)
    total = len(references)
    return {"exact_match": exact_match / total, "f1": f1 / total}
