"""One way to print a score in the TUI: the engine's display scale
(`engine.report.metric_scale`: 100 for metrics read as percentages) and one
decimal, rounded as `engine.report.format_cell` rounds, so the Monitor, the
Results heatmap and the CLI show the same digits (0.497 is 49.7 everywhere)."""

from __future__ import annotations

from engine.report import metric_scale

# Events written before the metric was recorded named only accuracy
# ("validation_accuracy"): read an unnamed metric as a percentage like it.
UNNAMED_METRIC = "accuracy"


def score_text(value: float | None, metric: str | None) -> str:
    """0.497 accuracy -> "49.7"; 12.36 perplexity -> "12.4"; no value -> ""."""
    if value is None:
        return ""
    return f"{value * _scale(metric):.1f}"


def is_percentage(metric: str | None) -> bool:
    return _scale(metric) == 100.0


def _scale(metric: str | None) -> float:
    return metric_scale(UNNAMED_METRIC if metric is None else metric)
