"""The matplotlib set-up every figure shares: Agg (no display needed, on a
server over SSH too), imported only when a figure is drawn; a note under the
plot; saving as PNG, SVG or PDF."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import InputError
from engine.figures import FIGURE_FORMATS
from engine.report import NOT_COMPARABLE, metric_scale

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def new_figure(width: float, height: float) -> Figure:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    # Figure() without pyplot: no global state, nothing left open per figure.
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def add_note(fig: Figure, lines: Sequence[str]) -> None:
    """Small text under the axes: the split, what the marks mean, caveats."""
    import textwrap

    # About 15 characters of 7.5 pt text per inch of figure width.
    width = max(60, int(fig.get_figwidth() * 15))
    lines = [
        wrapped for line in lines if line for wrapped in textwrap.wrap(line, width)
    ]
    if lines:
        fig.supxlabel("\n".join(lines), fontsize=7.5, ha="left", x=0.01)


def unit_label(metrics: Sequence[str]) -> str:
    """'points (x100)' for percentage metrics, else the metric's own unit."""
    metrics = [m for m in dict.fromkeys(metrics) if m]
    if metrics and all(metric_scale(m) == 100.0 for m in metrics):
        return "points (score x100)"
    return "score units" if not metrics else f"{'/'.join(metrics)} units"


def not_comparable_lines(reasons: Sequence[str]) -> list[str]:
    return [
        f"{NOT_COMPARABLE} not comparable with the literature: {r}"
        for r in dict.fromkeys(reasons)
    ]


# The mark the results tables use for a collapsed model (engine.significance).
COLLAPSED_MARK = "!"


def collapse_lines(reasons: Sequence[str]) -> list[str]:
    """Notes for changes next to a collapsed model: such a change says more
    about the collapse than about transfer."""
    return [
        f"{COLLAPSED_MARK} collapsed, read the change with care: {r}"
        for r in dict.fromkeys(reasons)
    ]


def save(fig: Figure, path: str | Path, fmt: str | None = None) -> Path:
    """Write the figure; the format is `fmt` or the path's suffix."""
    path = Path(path)
    fmt = fmt or path.suffix.lstrip(".").lower()
    if fmt not in FIGURE_FORMATS:
        raise InputError(
            f"{path}: figure format '{fmt}' unknown; use one of "
            f"{', '.join(FIGURE_FORMATS)}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    # metadata: no creation date, so one figure drawn twice is the same file.
    metadata = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {}}[fmt]
    fig.savefig(partial, format=fmt, dpi=150, metadata=metadata)
    partial.replace(path)  # a reader never sees half a figure
    return path
