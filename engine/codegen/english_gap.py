"""The English-to-language gap of code targets, and how an intermediate task
changes it.

An intermediate task that makes a model "better at code" lifts English and
every other language alike; one that helps *transfer* narrows the gap between
English and the others. For each (target, intermediate, language, metric):

    gap        = score(en) - score(language)
    gap_change = gap(intermediate) - gap(baseline)   (negative: narrower)

Scores are first averaged over seeds. A target without English problems of
its own (JHumanEval, HumanEval-ru) takes its anchor from the translate-test
control (the row "<choice>:translate-test", the English originals of the same
problems) where the run has one. A target with neither (MCoNaLa; ODEX when
CoNaLa is trained on: its English problems are refused as contaminated) has
no gap rows; `missing_anchor` names such targets so the view can say so
instead of showing nothing.

Light module (no torch): `xlt-engine results` and the TUI read it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from statistics import fmean

from engine.config import BASELINE

ANCHOR = "en"
# The results label of a choice's translate-test row (engine.pipeline).
ORACLE_SUFFIX = ":translate-test"


def _means(records: Iterable[dict]) -> dict[tuple, float]:
    values: dict[tuple, list[float]] = defaultdict(list)
    for r in records:
        key = (r["target"], r["intermediate"], r["language"], r["metric"])
        values[key].append(float(r["value"]))
    return {key: fmean(v) for key, v in values.items()}


def english_gap(records: Iterable[dict], anchor: str = ANCHOR) -> list[dict]:
    """One row per (target, intermediate, language other than the anchor,
    metric) whose anchor score exists: the scores, the gap, and (where the
    baseline has both scores) the baseline's gap and the change."""
    means = _means(records)
    rows = []

    def anchor_of(target, choice, metric):
        own = means.get((target, choice, anchor, metric))
        if own is not None:
            return own
        return means.get((target, f"{choice}{ORACLE_SUFFIX}", anchor, metric))

    for (target, choice, lang, metric), score in sorted(means.items()):
        english = anchor_of(target, choice, metric)
        if lang == anchor or english is None:
            continue
        gap = english - score
        row = {
            "target": target,
            "intermediate": choice,
            "language": lang,
            "metric": metric,
            "score_en": english,
            "score": score,
            "gap": gap,
            "baseline_gap": None,
            "gap_change": None,
        }
        base_en = anchor_of(target, BASELINE, metric)
        base = means.get((target, BASELINE, lang, metric))
        if base_en is not None and base is not None:
            row["baseline_gap"] = base_en - base
            row["gap_change"] = gap - row["baseline_gap"]
        rows.append(row)
    return rows


def missing_anchor(records: Iterable[dict], anchor: str = ANCHOR) -> list[str]:
    """Targets scored without any anchor-language result."""
    langs: dict[str, set[str]] = defaultdict(set)
    for r in records:
        langs[r["target"]].add(r["language"])  # translate-test rows are "en"
    return sorted(t for t, ls in langs.items() if anchor not in ls)
