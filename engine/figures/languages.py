"""Per-language change for one target: one group per language, one point per
intermediate with its interval, languages in the user's order (e.g. by
distance from English or by pretraining data size) or as in the results."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from engine.figures.canvas import (
    add_note,
    collapse_lines,
    new_figure,
    not_comparable_lines,
    unit_label,
)
from engine.figures.inputs import AVERAGE, Change
from engine.figures.main import draw_series, legend_note
from engine.figures.ordering import ordered_languages
from engine.report import NOT_COMPARABLE

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def draw_languages(
    changes: Sequence[Change],
    target: str,
    ordering: dict[str, float] | None = None,
    ordering_name: str = "",
    split: str = "",
    interval_note: str = "",
) -> Figure:
    mine = [c for c in changes if c.target == target and c.language != AVERAGE]
    if not mine:
        raise ValueError(f"languages figure: no per-language change for '{target}'")
    languages, missing = ordered_languages(
        list(dict.fromkeys(c.language for c in mine)), ordering
    )
    intermediates = list(dict.fromkeys(c.intermediate for c in mine))
    width = 1.5 + 0.45 * len(languages) * max(1, len(intermediates)) ** 0.5
    fig = new_figure(min(18.0, max(6.5, width + 1.5)), 4.2)
    ax = fig.add_subplot()
    draw_series(ax, mine, languages, intermediates, key=lambda c: c.language)
    marked = {c.language for c in mine if c.not_comparable}

    def tick(lang: str) -> str:
        text = lang + (NOT_COMPARABLE if lang in marked else "")
        if ordering and lang in ordering:
            text += f"\n{ordering[lang]:g}"
        return text

    ax.set_xticks(range(len(languages)), [tick(lg) for lg in languages])
    ax.set_xlabel(
        f"language, ordered by {ordering_name or 'the given value'} (value under it)"
        if ordering
        else "language (order as in the results)"
    )
    ax.set_ylabel(f"change vs baseline, {unit_label([c.metric for c in mine])}")
    ax.set_title(
        f"{target}: zero-shot change against the baseline per language", fontsize=10
    )
    add_note(
        fig,
        [
            f"{split} split" if split else "",
            interval_note,
            legend_note(mine),
            f"not in the ordering, drawn last: {', '.join(missing)}" if missing else "",
            *not_comparable_lines([r for c in mine for r in c.not_comparable]),
            *collapse_lines([r for c in mine for r in c.collapsed]),
        ],
    )
    return fig
