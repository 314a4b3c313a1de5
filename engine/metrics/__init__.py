"""Metrics, by name. A task names its major metric (used for model selection)."""

from engine.metrics.classification import accuracy, macro_f1

METRICS = {"accuracy": accuracy}
MINOR_METRICS = {"macro_f1": macro_f1}

__all__ = ["METRICS", "MINOR_METRICS", "accuracy", "macro_f1"]
