"""Does an intermediate task that is learnt well in English transfer well?
Each intermediate's own English validation score against its average
transfer gain, with Pearson's r and Spearman's rho in the title.

Phang et al. 2020 (arXiv 2005.13013, Section 5) discuss intermediate-task
performance against transfer; the scatter is this project's view of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from engine.figures.canvas import add_note, new_figure, unit_label
from engine.figures.correlation import FEW_POINTS, pearson, spearman
from engine.figures.inputs import ValidationPoint
from engine.figures.palette import colour, marker
from engine.report import metric_scale

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def correlation_title(points: Sequence[ValidationPoint]) -> str:
    xs = [p.validation for p in points]
    ys = [p.gain for p in points]
    r, rho = pearson(xs, ys), spearman(xs, ys)
    if r is None or rho is None:
        return (
            f"correlation undefined (n = {len(points)}; needs 3 or more varied points)"
        )
    return f"Pearson r = {r:.2f}, Spearman rho = {rho:.2f} (n = {len(points)})"


def draw_validation_gain(
    points: Sequence[ValidationPoint], split: str = "", gain_note: str = ""
) -> Figure:
    if not points:
        raise ValueError(
            "validation-vs-gain figure: no intermediate with both an English "
            "validation score and a change against the baseline"
        )
    fig = new_figure(6.0, 4.6)
    ax = fig.add_subplot()
    for i, p in enumerate(points):
        x = p.validation * metric_scale(p.validation_metric)
        y = p.gain * metric_scale(p.gain_metric)
        ax.plot(
            [x], [y], linestyle="none", marker=marker(i), markersize=8, color=colour(i)
        )
        ax.annotate(
            p.intermediate,
            (x, y),
            xytext=(5, 4),
            textcoords="offset points",
            fontsize=8,
        )
    ax.margins(x=0.15, y=0.12)  # room for the names beside the points
    ax.axhline(0.0, color="#444444", linewidth=0.8, zorder=0)
    ax.grid(color="#eeeeee", linewidth=0.6)
    ax.set_axisbelow(True)
    metrics = list(dict.fromkeys(p.validation_metric for p in points))
    ax.set_xlabel(
        f"intermediate task's English validation score ({'/'.join(metrics)}), "
        f"{unit_label(metrics)}"
    )
    ax.set_ylabel(
        "transfer gain: mean change vs baseline\nover targets, "
        + unit_label([p.gain_metric for p in points])
    )
    ax.set_title(
        "Intermediate-task validation score vs transfer gain\n"
        + correlation_title(points),
        fontsize=10,
    )
    add_note(
        fig,
        [
            f"gain: zero-shot {split} split" if split else "",
            "validation: the intermediate stage's last English check, mean over seeds",
            f"few points (n = {len(points)} < {FEW_POINTS}): "
            "the correlation is weak evidence"
            if len(points) < FEW_POINTS
            else "",
            gain_note,
        ],
    )
    return fig
