"""Sequence-tagging metrics: span F1 (PAN-X), POS "F1" as XTREME reports it,
token accuracy.

XTREME scores both panx and udpos with seqeval's ``f1_score`` called with its
defaults (run_tag.py and evaluate.py), i.e. micro-averaged, conlleval-compatible
chunk F1. seqeval is imported inside the functions: it pulls in scikit-learn.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

Tags = Sequence[Sequence[str]]


def _check_shapes(gold: Tags, pred: Tags) -> None:
    if len(gold) != len(pred):
        raise ValueError(
            f"gold has {len(gold)} sentences, predictions have {len(pred)}"
        )
    for i, (g, p) in enumerate(zip(gold, pred, strict=True)):
        if len(g) != len(p):
            raise ValueError(
                f"sentence {i}: gold has {len(g)} tags, prediction has {len(p)}"
            )
    if not any(len(g) for g in gold):
        raise ValueError("no tokens to score")


def _seqeval_f1(gold: Tags, pred: Tags) -> float:
    from seqeval.metrics import f1_score

    with warnings.catch_warnings():
        # seqeval warns once per tag that lacks a B-/I-/E-/S- prefix; for POS
        # tags that is every tag, and it changes nothing in the score.
        warnings.filterwarnings("ignore", message=".*seems not to be NE tag")
        return float(f1_score([list(s) for s in gold], [list(s) for s in pred]))


def span_f1(gold: Tags, pred: Tags) -> float:
    """Micro F1 over entity spans (PAN-X / WikiAnn, BIO tags), seqeval's default
    conlleval-style mode: an I- tag after O or after another type opens a span,
    a span counts only if its type, start and end all match. 0 when there are
    no spans at all (seqeval's zero_division="warn" acts as 0)."""
    _check_shapes(gold, pred)
    return _seqeval_f1(gold, pred)


def pos_f1(gold: Tags, pred: Tags) -> float:
    """POS "F1" exactly as XTREME reports UD-POS: seqeval ``f1_score`` on the raw
    UPOS sequences, although they are not BIO tags.

    What that computes. seqeval (>= 1.0, non-suffix mode) reads a tag's first
    character as the chunk prefix and the rest (after an optional "-") as the
    type: NOUN -> prefix "N", type "OUN"; VERB -> "V", "ERB"; X -> "X", "_".
    A prefix that is not B/I/E/S/O only matters through the type, so:

    - a run of consecutive identical tags is ONE chunk (NOUN NOUN = one "OUN"
      chunk over two tokens), and a chunk is right only if the prediction has
      exactly the same run (same start, same end, same tag);
    - tags whose first letter is a real prefix behave as such: SCONJ and SYM
      (prefix "S") are always single-token chunks; INTJ (prefix "I") continues
      a preceding INTJ run;
    - CCONJ and SCONJ share the type "CONJ": a CCONJ directly followed by a
      SCONJ is not counted as a chunk at all. (seqeval 0.0.x, current when
      XTREME was published, kept the whole tag as the type, so there they stay
      two chunks; this is the only UPOS pair the two versions treat apart.)

    The score is micro F1 over those chunks, not token accuracy. Example (one
    sentence)::

        gold: DET  NOUN NOUN VERB ADJ
        pred: DET  NOUN ADJ  VERB ADJ

    Token accuracy is 4/5 = 0.8. Gold chunks: DET[0], NOUN[1-2], VERB[3],
    ADJ[4] (4); predicted: DET[0], NOUN[1], ADJ[2], VERB[3], ADJ[4] (5);
    3 match (DET, VERB, ADJ[4]); P = 3/5, R = 3/4, F1 = 2/3 ~ 0.667.
    """
    _check_shapes(gold, pred)
    return _seqeval_f1(gold, pred)


def token_accuracy(gold: Tags, pred: Tags) -> float:
    """Fraction of tokens whose predicted tag equals the gold tag."""
    _check_shapes(gold, pred)
    total = correct = 0
    for g_sentence, p_sentence in zip(gold, pred, strict=True):
        for g, p in zip(g_sentence, p_sentence, strict=True):
            total += 1
            correct += g == p
    return correct / total


def chunk_counts(gold: Sequence[str], pred: Sequence[str]) -> tuple[int, int, int]:
    """One sentence's true positive, false positive and false negative chunks
    as seqeval's default mode finds them (its get_entities, as `span_f1` and
    `pos_f1` use): summed over sentences they give back those micro F1s, since
    seqeval joins sentences with an "O" that no chunk crosses."""
    from seqeval.metrics.sequence_labeling import get_entities

    _check_shapes([gold], [pred])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*seems not to be NE tag")
        true = set(get_entities(list(gold)))
        found = set(get_entities(list(pred)))
    tp = len(true & found)
    return tp, len(found) - tp, len(true) - tp
