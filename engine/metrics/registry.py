"""What each XTREME task reports: metric descriptions by name.

A description names the function that computes the metric (imported only when
asked for, so reading this module stays light), the keys it returns, the
primary key stored in results and used for model selection, and whether the
values are read as percentages. Every value xlt stores is a fraction in
[0, 1]; "read as a percentage" means it is shown x100 (0.853 -> 85.3), as
papers and the XTREME leaderboard print it.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class MetricSpec:
    name: str
    primary: str
    """Key stored in the results table and used to pick the best step."""
    keys: tuple[str, ...]
    """Every key the function returns."""
    percentage: bool
    """Score keys are fractions shown as percentages."""
    function: str
    """"module:attribute" of the function that computes it."""
    description: str
    unscaled_keys: tuple[str, ...] = ()
    """Keys that are not scores (shown as they are, never x100)."""

    def load(self) -> Callable:
        module, attribute = self.function.split(":")
        return getattr(importlib.import_module(module), attribute)

    def shown_as_percentage(self, key: str) -> bool:
        return self.percentage and key not in self.unscaled_keys


METRIC_SPECS: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec(
            name="accuracy",
            primary="accuracy",
            keys=("accuracy",),
            percentage=True,
            function="engine.metrics.classification:accuracy",
            description="fraction of examples whose predicted label is right",
        ),
        MetricSpec(
            name="span_f1",
            primary="f1",
            keys=("f1",),
            percentage=True,
            function="engine.metrics.tagging:span_f1",
            description="seqeval micro F1 over BIO entity spans (conlleval mode)",
        ),
        MetricSpec(
            name="pos_f1",
            primary="f1",
            keys=("f1",),
            percentage=True,
            function="engine.metrics.tagging:pos_f1",
            description=(
                "seqeval F1 on raw UPOS tags, as XTREME reports UD-POS "
                "(runs of equal tags are chunks; not token accuracy)"
            ),
        ),
        MetricSpec(
            name="squad_em_f1",
            primary="f1",
            keys=("exact_match", "f1"),
            percentage=True,
            function="engine.metrics.squad:squad_v1",
            description="SQuAD v1.1 exact match and token F1 (XQuAD, TyDiQA-GoldP)",
        ),
        MetricSpec(
            name="mlqa_em_f1",
            primary="f1",
            keys=("exact_match", "f1"),
            percentage=True,
            function="engine.metrics.mlqa:mlqa",
            description="MLQA exact match and F1 with per-language normalisation",
        ),
        MetricSpec(
            name="bucc_f1",
            primary="f1",
            keys=("f1", "precision", "recall", "threshold"),
            percentage=True,
            function="engine.metrics.retrieval:bucc_f1",
            description=(
                "F1 of margin-mined sentence pairs, threshold tuned for F1 on "
                "the scored gold pairs (as XTREME)"
            ),
            unscaled_keys=("threshold",),
        ),
        MetricSpec(
            name="tatoeba_accuracy",
            primary="accuracy",
            keys=("accuracy",),
            percentage=True,
            function="engine.metrics.retrieval:tatoeba_accuracy",
            description=(
                "fraction of sentences whose cosine nearest neighbour is their "
                "translation"
            ),
        ),
    )
}

# The metric each XTREME task reports.
XTREME_TASK_METRICS: dict[str, str] = {
    "xnli": "accuracy",
    "pawsx": "accuracy",
    "udpos": "pos_f1",
    "panx": "span_f1",
    "xquad": "squad_em_f1",
    "mlqa": "mlqa_em_f1",
    "tydiqa": "squad_em_f1",
    "bucc2018": "bucc_f1",
    "tatoeba": "tatoeba_accuracy",
}


def unknown_name_error(kind: str, name: str, known) -> ValueError:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(known)}"
    return ValueError(f"unknown {kind} {name!r}{hint}")


def metric_spec(name: str) -> MetricSpec:
    try:
        return METRIC_SPECS[name]
    except KeyError:
        raise unknown_name_error("metric", name, METRIC_SPECS) from None


def task_metric(task: str) -> MetricSpec:
    """The metric an XTREME task reports."""
    try:
        return METRIC_SPECS[XTREME_TASK_METRICS[task]]
    except KeyError:
        raise unknown_name_error("XTREME task", task, XTREME_TASK_METRICS) from None
