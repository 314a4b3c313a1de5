"""What the figures draw, as plain records: no store, no events, no stats
internals. Values are fractions (0.734), as stored; figures scale them for
display (`engine.report.metric_scale`: x100 for percentage metrics)."""

from __future__ import annotations

from dataclasses import dataclass, field

AVERAGE = "avg"  # the `language` of a change averaged over a target's languages


@dataclass(frozen=True)
class Change:
    """One intermediate's change against the baseline on one target and
    language (or AVERAGE), with its 95% interval when one was computed."""

    target: str
    intermediate: str
    language: str
    value: float  # the intermediate's score
    delta: float  # value minus the baseline's
    metric: str = ""
    low: float | None = None  # interval of delta; None: no interval computed
    high: float | None = None
    significant: bool | None = None  # None: not tested
    not_comparable: tuple[str, ...] = ()  # reasons; empty: comparable
    collapsed: tuple[str, ...] = ()
    """Why this change may be an artefact: the intermediate's or the
    baseline's model predicts one class for nearly every example (reasons as
    engine.significance.collapse_text words them); empty: neither did."""

    @property
    def has_interval(self) -> bool:
        return self.low is not None and self.high is not None


@dataclass(frozen=True)
class ValidationPoint:
    """An intermediate task's own English validation score and its transfer
    gain (mean change over the targets, against the baseline)."""

    intermediate: str
    validation: float  # fraction
    validation_metric: str
    gain: float  # fraction
    gain_metric: str = ""


@dataclass(frozen=True)
class ValidationCheck:
    step: int
    value: float
    task: str = ""
    metric: str = ""


@dataclass
class LearningCurve:
    """A stage's training as its events tell it."""

    stage: str
    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    checks: list[ValidationCheck] = field(default_factory=list)
    kept_step: int | None = None  # the step whose weights the stage kept
    kept_how: str = ""  # "best validation" or "last step"
