"""Reference levels a score should be read against, and collapsed models.

For classification and multiple choice: the majority-class level (always
predict the gold's most frequent label) and chance (1 / number of classes).
A model has *collapsed* when one predicted class takes at least `threshold`
of its predictions while the gold does not concentrate like that.

Default threshold 0.9: XNLI is balanced over 3 labels (majority 1/3) and
PAWS-X test is near balanced over 2 (majority ~0.55), so 90% of predictions in
one class cannot come from the data, while a model stuck on one class (the
failed fine-tuning runs of Mosbach et al. 2021, "On the Stability of
Fine-tuning BERT", end at majority-class accuracy) lands at ~100%. The gold
check keeps a genuinely skewed test set (its majority >= the threshold) from
being flagged.

Tagging: the share of the most frequent tag is meaningless for BIO tagging
(O is most gold tokens), so `span_collapse` flags the collapse that happens
there, predicting (nearly) no spans: predicted spans (tp + fp) below
(1 - threshold) of gold spans (tp + fn). For UD-POS the label-share test
works on the flattened token tags (NOUN is ~20% of gold tokens). Reference
levels for span F1 are 0 (majority = all O = no spans) and are not computed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

DEFAULT_COLLAPSE_THRESHOLD = 0.9


@dataclass(frozen=True)
class ReferenceLevels:
    majority: float
    """Accuracy of always predicting the gold's most frequent label (fraction)."""
    majority_label: Hashable
    chance: float
    """1 / number of classes."""
    n_classes: int


@dataclass(frozen=True)
class CollapseCheck:
    collapsed: bool
    top_label: Hashable | None
    top_share: float
    """Share of predictions (or, for spans, predicted/gold span ratio)."""
    gold_share: float | None
    threshold: float


def reference_levels(
    gold: Sequence[Hashable], labels: Sequence[Hashable] | None = None
) -> ReferenceLevels:
    """Majority-class and chance levels of a gold label list; `labels` is the
    task's label set (default: the labels seen in `gold`)."""
    if not len(gold):
        raise ValueError("no gold labels")
    counts = Counter(gold)
    label, count = counts.most_common(1)[0]
    n_classes = len(labels) if labels is not None else len(counts)
    return ReferenceLevels(
        majority=count / len(gold),
        majority_label=label,
        chance=1 / n_classes,
        n_classes=n_classes,
    )


def collapsed(
    predictions: Sequence[Hashable],
    gold: Sequence[Hashable] | None = None,
    threshold: float = DEFAULT_COLLAPSE_THRESHOLD,
) -> CollapseCheck:
    """Whether one predicted class takes >= `threshold` of the predictions
    (and the gold's own majority share stays below it, when gold is given)."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if not len(predictions):
        return CollapseCheck(False, None, 0.0, None, threshold)
    label, count = Counter(predictions).most_common(1)[0]
    share = count / len(predictions)
    gold_share = (
        reference_levels(gold).majority if gold is not None and len(gold) else None
    )
    flagged = share >= threshold and (gold_share is None or gold_share < threshold)
    return CollapseCheck(flagged, label, share, gold_share, threshold)


def span_collapse(
    tp: int, fp: int, fn: int, threshold: float = DEFAULT_COLLAPSE_THRESHOLD
) -> CollapseCheck:
    """A tagger that predicts (nearly) no spans: predicted spans are fewer
    than (1 - threshold) of the gold spans. `top_share` is that ratio."""
    gold_spans = tp + fn
    predicted = tp + fp
    ratio = predicted / gold_spans if gold_spans else 1.0
    flagged = gold_spans > 0 and ratio < 1 - threshold
    return CollapseCheck(flagged, None, ratio, None, threshold)
