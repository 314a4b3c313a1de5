"""A stage's learning curve from its events: training loss per step (left
axis), its English validation checks (right axis) and the step whose weights
it kept."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.figures.canvas import new_figure
from engine.figures.inputs import LearningCurve
from engine.figures.palette import colour, marker
from engine.report import metric_scale

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def draw_learning_curve(curve: LearningCurve) -> Figure:
    if not curve.steps and not curve.checks:
        raise ValueError(
            f"learning curve: stage '{curve.stage}' has no step or validation events"
        )
    fig = new_figure(6.4, 4.0)
    ax = fig.add_subplot()
    if curve.steps:
        ax.plot(
            curve.steps,
            curve.losses,
            color=colour(3),
            linewidth=1.5,
            label="training loss",
        )
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss (mean per logging interval)")
    ax.grid(color="#eeeeee", linewidth=0.6)
    handles, labels = ax.get_legend_handles_labels()
    if curve.checks:
        right = ax.twinx()
        tasks = list(dict.fromkeys(c.task for c in curve.checks))
        for i, task in enumerate(tasks):
            mine = [c for c in curve.checks if c.task == task]
            k = metric_scale(mine[0].metric)
            right.plot(
                [c.step for c in mine],
                [c.value * k for c in mine],
                color=colour(i + 4),
                marker=marker(i + 1),
                linestyle="--",
                linewidth=1.0,
                label=f"{task} validation {mine[0].metric} (en)",
            )
        metrics = list(dict.fromkeys(c.metric for c in curve.checks))
        scaled = all(metric_scale(m) == 100.0 for m in metrics)
        right.set_ylabel(
            f"validation split (English) {'/'.join(metrics)}"
            + (" (x100)" if scaled else "")
        )
        more_h, more_l = right.get_legend_handles_labels()
        handles, labels = handles + more_h, labels + more_l
    if curve.kept_step is not None:
        handles.append(
            ax.axvline(curve.kept_step, color="#000000", linestyle=":", linewidth=1.2)
        )
        labels.append(f"kept: step {curve.kept_step} ({curve.kept_how})")
    # Under the axes: never over the curves.
    fig.legend(handles, labels, fontsize=8, loc="outside lower center", ncols=2)
    ax.set_title(f"Learning curve: {curve.stage}", fontsize=10)
    return fig
