"""The paper's main figure: change against the baseline per target, one
group per target, one point per intermediate with its 95% interval.

The shape of Phang et al. 2020 (arXiv 2005.13013), Figure 1: per target
task, the change in zero-shot cross-lingual score (average over the
target's languages) of each intermediate task over the baseline. Significant
changes are filled markers, others hollow, so the figure reads without
colour too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from engine.figures.canvas import (
    COLLAPSED_MARK,
    add_note,
    collapse_lines,
    new_figure,
    not_comparable_lines,
    unit_label,
)
from engine.figures.inputs import AVERAGE, Change
from engine.figures.palette import colour, marker
from engine.report import NOT_COMPARABLE, metric_scale

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def draw_main(
    changes: Sequence[Change], split: str = "", interval_note: str = ""
) -> Figure:
    """`changes`: per-target averages (language AVERAGE); others are left
    out. `interval_note` says where the intervals come from."""
    avg = [c for c in changes if c.language == AVERAGE]
    if not avg:
        raise ValueError("main figure: no change against the baseline to draw")
    targets = list(dict.fromkeys(c.target for c in avg))
    intermediates = list(dict.fromkeys(c.intermediate for c in avg))
    width = 1.3 + 1.1 * len(targets) * max(1, len(intermediates)) ** 0.5
    fig = new_figure(min(16.0, max(6.5, width + 1.5)), 4.2)
    ax = fig.add_subplot()
    draw_series(ax, avg, targets, intermediates, key=lambda c: c.target)
    marked = {c.target for c in avg if c.not_comparable}
    ax.set_xticks(
        range(len(targets)),
        [t + (NOT_COMPARABLE if t in marked else "") for t in targets],
    )
    ax.set_xlabel("target task (average over its languages)")
    ax.set_ylabel(f"change vs baseline, {unit_label([c.metric for c in avg])}")
    ax.set_title("Zero-shot change against the baseline per target", fontsize=10)
    add_note(
        fig,
        [
            f"{split} split" if split else "",
            interval_note,
            legend_note(avg),
            *not_comparable_lines([r for c in avg for r in c.not_comparable]),
            *collapse_lines([r for c in avg for r in c.collapsed]),
        ],
    )
    return fig


def draw_series(
    ax: Axes,
    changes: Sequence[Change],
    groups: list[str],
    intermediates: list[str],
    key,
) -> None:
    """One error-bar series per intermediate, dodged within each group;
    filled markers for significant changes, hollow otherwise. A zero line."""
    width = 0.7
    step = width / max(1, len(intermediates))
    for i, name in enumerate(intermediates):
        mine = {key(c): c for c in changes if c.intermediate == name}
        xs, ys, lows, highs, filled = [], [], [], [], []
        for g, group in enumerate(groups):
            c = mine.get(group)
            if c is None:
                continue
            k = metric_scale(c.metric)
            xs.append(g - width / 2 + step * (i + 0.5))
            ys.append(c.delta * k)
            if c.collapsed:  # the table's mark, beside the point
                ax.annotate(
                    COLLAPSED_MARK,
                    (xs[-1], ys[-1]),
                    xytext=(6, 4),
                    textcoords="offset points",
                    fontsize=10,
                    fontweight="bold",
                    color="#000000",
                )
            lows.append((c.delta - c.low) * k if c.low is not None else 0.0)
            highs.append((c.high - c.delta) * k if c.high is not None else 0.0)
            filled.append(bool(c.significant))
        if not xs:
            continue
        if any(c.has_interval for c in mine.values()):
            ax.errorbar(
                xs,
                ys,
                yerr=[lows, highs],
                fmt="none",
                ecolor=colour(i),
                elinewidth=1.4,
                capsize=3,
            )
        ax.plot(
            xs,
            ys,
            linestyle="none",
            marker=marker(i),
            markersize=7,
            color=colour(i),
            markeredgecolor=colour(i),
            label=name,
        )
        # Hollow markers over the filled ones where the change is not
        # significant (or was not tested).
        hollow = [(x, y) for x, y, f in zip(xs, ys, filled, strict=True) if not f]
        if hollow:
            ax.plot(
                [x for x, _ in hollow],
                [y for _, y in hollow],
                linestyle="none",
                marker=marker(i),
                markersize=7,
                markerfacecolor="white",
                markeredgecolor=colour(i),
            )
    ax.axhline(0.0, color="#444444", linewidth=0.8, zorder=0)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    # Outside the axes, right: never over a point.
    ax.legend(
        title="intermediate task",
        fontsize=8,
        title_fontsize=8,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
    )


def legend_note(changes: Sequence[Change]) -> str:
    if any(c.significant is not None for c in changes):
        return "filled marker: significant (95%, paired bootstrap); hollow: not"
    return "hollow markers: significance not tested"
