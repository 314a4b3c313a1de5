"""What the results screen shows, as plain data: the heatmap of one run and
target task (rows: intermediate choices; columns: languages, then their
average), the overview of a run (rows: intermediate choices; columns: target
tasks, each cell the average over languages), and the run's XTREME table
(rows: intermediate choices; columns: the XTREME tasks, the complete group
scores and the overall score, as `xlt-engine results --xtreme` prints it).

Two modes. `score`: the mean over seeds, on a sequential scale from the view's
lowest to its highest score. `delta`: the change against the baseline, on a
diverging red-white-green scale centred at 0 and symmetric (the largest change
either way sets both ends); the baseline row keeps its scores, drawn without
colour, as the reference that papers print above the changes.

Sorting keeps the baseline first whatever the column and direction: it is the
reference every other row is read against. Rows without a value in the sort
column go last either way. Hiding languages recomputes the average column over
the languages still shown (a paper table of a subset averages that subset).

Every grid is of one evaluation split (validation or test; `ViewState.split`,
default: validation when the run has it, else test, as `xlt-engine results`),
and says which in its title. A number recorded as not comparable carries
report.NOT_COMPARABLE in its text (a character, so NO_COLOR keeps it) and its
reason in the legend's note and the cell's detail; an XTREME task scored on
some of its languages shows "(3/15)" and stays out of the aggregates.

Significance (engine.significance, computed by the screen in a worker):
`with_significance` marks a heatmap's cells with plain characters (* a
significant change against the baseline, ! a collapsed model, ? no per-example
predictions) and adds one legend line; `significance_lines` is the detail
panel's interval, p-values and reference levels. Palettes: the default
(ColorBrewer) and a colour-blind-safe one (viridis, Okabe-Ito blue-orange);
on a dark theme the diverging middle is dark (`Grid.dark`).

Light module: no torch, no textual. The exporters (xlt_tui.export) and the
widgets read the same object, so a file written is the view on screen.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from engine.config import BASELINE
from engine.metrics import xtreme
from engine.metrics.registry import task_metric
from engine.report import (
    NOT_COMPARABLE,
    Pivot,
    cell_marks,
    default_split,
    footnotes,
    format_cell,
    metric_scale,
    of_split,
    pivot,
    splits_in,
)
from engine.xtreme_report import METRIC as XTREME_METRIC
from engine.xtreme_report import OVERALL, caption, xtreme_pivot
from xlt_tui.score_text import score_text

if TYPE_CHECKING:  # engine.significance loads numpy: only where it is used
    from engine.significance import TargetSignificance

SCORE = "score"
DELTA = "delta"
MODES = (SCORE, DELTA)
AVG = "avg"

# Colour stops, low to high. Sequential: ColorBrewer "Blues"; diverging: red,
# white, green (ColorBrewer RdBu's red half, PRGn's green half).
SEQUENTIAL = ("#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b")
DIVERGING = (
    "#b2182b",
    "#ef8a62",
    "#fddbc7",
    "#f7f7f7",
    "#d9f0d3",
    "#7fbf7b",
    "#1b7837",
)
# The colour-blind-safe choice. Sequential: viridis (matplotlib's default map,
# van der Walt & Smith 2015), perceptually uniform and readable under the
# common colour-vision deficiencies; these are its 0, .25, .5, .75, 1 stops.
# Diverging: blue-orange from the Okabe-Ito palette (Okabe & Ito 2008, "Color
# Universal Design"): vermillion/orange for losses, sky blue/blue for gains,
# told apart by protan, deutan and tritan viewers alike (red-green is not).
VIRIDIS = ("#440154", "#3b528b", "#21918c", "#5ec962", "#fde725")
BLUE_ORANGE = ("#d55e00", "#e69f00", "#f7f7f7", "#56b4e9", "#0072b2")
DEFAULT_PALETTE, COLOUR_BLIND = "default", "colour-blind"
PALETTES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    DEFAULT_PALETTE: (SEQUENTIAL, DIVERGING),
    COLOUR_BLIND: (VIRIDIS, BLUE_ORANGE),
}
# The neutral middle of a diverging scale on a dark theme: a change near 0
# fades into a dark background instead of glaring white (theme-aware). Files
# written for a paper keep the light middle (`paper_stops`).
DARK_MIDDLE = "#3a3a3a"
MISSING = "–"

Record = dict[str, Any]
Key = tuple[str, str]


# -- colours --------------------------------------------------------------------


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def interpolate(stops: Sequence[str], fraction: float) -> str:
    """The colour at `fraction` (0..1) along the stops, linear in RGB."""
    fraction = min(1.0, max(0.0, fraction))
    pos = fraction * (len(stops) - 1)
    i = min(int(pos), len(stops) - 2)
    t = pos - i
    a, b = _rgb(stops[i]), _rgb(stops[i + 1])
    r, g, bl = (round(x + (y - x) * t) for x, y in zip(a, b, strict=True))
    return f"#{r:02x}{g:02x}{bl:02x}"


def text_colour(background: str) -> str:
    """Black on light backgrounds, white on dark ones (relative luminance)."""
    r, g, b = (c / 255 for c in _rgb(background))
    return "#000000" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.5 else "#ffffff"


@dataclass(frozen=True)
class Legend:
    caption: str  # what the colours mean
    low: str  # label of the low end
    high: str  # label of the high end
    stops: tuple[str, ...]
    mid: str = ""  # label of the middle (0 for changes)

    def colours(self, n: int) -> list[str]:
        return [interpolate(self.stops, i / max(1, n - 1)) for i in range(n)]


# -- a coloured grid of numbers --------------------------------------------------


@dataclass
class Grid:
    """Rows × columns of numbers (fractions, as stored) with their text and
    colour. In delta mode `values` hold changes, except in `reference_rows`
    (the baseline), which hold scores and get no colour."""

    mode: str
    rows: list[str]
    columns: list[str]
    values: dict[Key, float]
    scales: dict[str, float]  # per column: 100 for metrics read as percentages
    reference_rows: frozenset[str] = frozenset()
    title: str = ""
    vmin: float = 0.0
    vmax: float = 0.0
    split: str = ""  # the evaluation split of every value
    # What follows a cell's number: "(3/15)", "[mnli]", NOT_COMPARABLE.
    suffixes: dict[Key, str] = field(default_factory=dict)
    footnotes: tuple[str, ...] = ()  # what the marks mean, with their reasons
    palette: str = DEFAULT_PALETTE  # a key of PALETTES
    dark: bool = False  # drawn on a dark theme: the diverging middle is dark

    def __post_init__(self) -> None:
        coloured = [
            v for (row, _), v in self.values.items() if row not in self.reference_rows
        ]
        if self.mode == DELTA:
            limit = max((abs(v) for v in coloured), default=0.0)
            self.vmin, self.vmax = -limit, limit
        elif coloured:
            self.vmin, self.vmax = min(coloured), max(coloured)

    @property
    def empty(self) -> bool:
        return not self.values

    def value(self, row: str, column: str) -> float | None:
        return self.values.get((row, column))

    def is_reference(self, row: str) -> bool:
        return row in self.reference_rows

    def shows_change(self, row: str) -> bool:
        return self.mode == DELTA and row not in self.reference_rows

    def text(self, row: str, column: str) -> str:
        value = self.value(row, column)
        if value is None:
            return MISSING
        k = self.scales.get(column, 1.0)
        digits = 1 if k == 100.0 else 3
        sign = "+" if self.shows_change(row) else ""
        return f"{value * k:{sign}.{digits}f}{self.suffixes.get((row, column), '')}"

    def is_marked(self, row: str, column: str) -> bool:
        """Whether the cell's number is recorded as not comparable."""
        return NOT_COMPARABLE in self.suffixes.get((row, column), "")

    @property
    def paper_stops(self) -> tuple[str, ...]:
        """The colour stops on white paper (exported figures)."""
        sequential, diverging = PALETTES.get(self.palette, PALETTES[DEFAULT_PALETTE])
        return diverging if self.mode == DELTA else sequential

    @property
    def stops(self) -> tuple[str, ...]:
        """The colour stops on screen (theme-aware middle)."""
        stops = self.paper_stops
        if self.dark and self.mode == DELTA:
            middle = len(stops) // 2
            stops = (*stops[:middle], DARK_MIDDLE, *stops[middle + 1 :])
        return stops

    def fraction(self, value: float) -> float:
        """Where `value` lies on the colour scale, 0..1."""
        if self.vmax <= self.vmin:
            return 0.5
        return (value - self.vmin) / (self.vmax - self.vmin)

    def colour(self, row: str, column: str) -> str | None:
        """Background colour of a cell (hex); None when it has no value or is
        the reference row in delta mode."""
        value = self.value(row, column)
        if value is None or row in self.reference_rows:
            return None
        return interpolate(self.stops, self.fraction(value))

    @property
    def scale(self) -> float:
        """The one multiplier of every column, or 1 when they differ."""
        scales = set(self.scales.values())
        return scales.pop() if len(scales) == 1 else 1.0

    def legend(self) -> Legend:
        k = self.scale
        digits = 1 if k == 100.0 else 3
        if self.mode == DELTA:
            unit = " (points)" if k == 100.0 else ""
            caption = f"change vs baseline{unit}"
            if self.reference_rows:
                caption += "; baseline row: scores"
            return Legend(
                caption,
                f"{self.vmin * k:+.{digits}f}",
                f"{self.vmax * k:+.{digits}f}",
                self.stops,
                mid="0",
            )
        unit = " (%)" if k == 100.0 else ""
        return Legend(
            f"score{unit}, mean over seeds",
            f"{self.vmin * k:.{digits}f}",
            f"{self.vmax * k:.{digits}f}",
            self.stops,
        )

    def legend_text(self) -> str:
        legend = self.legend()
        if self.empty:
            return "no values"
        middle = f" … {legend.mid} … " if legend.mid else " … "
        text = f"{legend.low}{middle}{legend.high}  {legend.caption}"
        return "  ".join([text, *self.footnotes])


# -- the heatmap of one run and target -------------------------------------------


@dataclass(frozen=True)
class ViewState:
    """What the user chose; everything else is derived from the records."""

    run_id: str | None = None
    target: str | None = None
    mode: str = SCORE
    hidden_languages: frozenset[str] = frozenset()
    sort_column: str | None = None  # a language or "avg"; None: the run's order
    descending: bool = True
    split: str | None = None  # None: validation when there is, else test

    def toggled_mode(self) -> ViewState:
        return replace(self, mode=DELTA if self.mode == SCORE else SCORE)

    def sorted_by(self, column: str) -> ViewState:
        """Sort by `column`, best first; the same column again reverses."""
        if column == self.sort_column:
            return replace(self, descending=not self.descending)
        return replace(self, sort_column=column, descending=True)

    def showing(
        self, languages: Iterable[str], all_languages: Iterable[str]
    ) -> ViewState:
        """Show `languages` only (a language added later shows too)."""
        shown = set(languages)
        return replace(
            self,
            hidden_languages=frozenset(lg for lg in all_languages if lg not in shown),
        )


@dataclass(frozen=True)
class CellDetail:
    row: str
    column: str
    target: str
    metric: str
    seeds: tuple[tuple[int, float], ...]  # (seed, value); value a fraction
    mean: float
    std: float | None
    delta: float | None
    baseline: float | None  # the baseline's mean in this column
    n_examples: int | None  # evaluation examples (summed over languages for avg)
    run_ids: tuple[str, ...]
    languages: tuple[str, ...] = ()  # the languages averaged (avg column only)
    split: str = ""
    not_comparable: tuple[str, ...] = ()  # reasons; empty: comparable

    def marks_line(self) -> str:
        return "  ".join(
            f"{NOT_COMPARABLE} not comparable: {r}" for r in self.not_comparable
        )

    def lines(self) -> list[str]:
        k = metric_scale(self.metric)
        digits = 1 if k == 100.0 else 3
        unit = "%" if k == 100.0 else ""

        def fmt(v: float, sign: str = "") -> str:
            return f"{v * k:{sign}.{digits}f}"

        where = f"{self.row} → {self.target} [{self.column}]"
        if self.column == AVG and self.languages:
            where += f" over {', '.join(self.languages)}"
        first = f"{where} · {self.metric}{' ' + unit if unit else ''}"
        if self.split:
            first += f" · {self.split}"
        seeds = "  ".join(f"seed {s}: {fmt(v)}" for s, v in self.seeds)
        summary = f"mean {fmt(self.mean)}"
        if self.std is not None:
            summary += f" ± {fmt(self.std)} (std)"
        if self.delta is not None and self.baseline is not None:
            summary += (
                f" · {fmt(self.delta, '+')} against baseline {fmt(self.baseline)}"
            )
        elif self.row == BASELINE:
            summary += " · the baseline (no intermediate stage)"
        else:
            summary += " · no baseline for this column"
        n = f"n_examples {self.n_examples}" if self.n_examples is not None else ""
        runs = f"run {', '.join(self.run_ids)}"
        out = [first, f"{seeds}", summary, " · ".join(x for x in (n, runs) if x)]
        return out + ([self.marks_line()] if self.not_comparable else [])


@dataclass
class _CellRecords:
    seeds: dict[int, list[float]] = field(default_factory=dict)
    n_examples: int | None = None
    run_ids: set[str] = field(default_factory=set)

    def seed_means(self) -> dict[int, float]:
        return {s: statistics.fmean(v) for s, v in sorted(self.seeds.items())}


@dataclass
class ResultsView(Grid):
    run_id: str = ""
    target: str = ""
    metric: str = ""
    languages: list[str] = field(default_factory=list)  # all, in task order
    shown_languages: list[str] = field(default_factory=list)
    sort_column: str | None = None
    descending: bool = True
    table: Pivot | None = None  # filtered columns, sorted rows: what is shown
    _cells: dict[Key, _CellRecords] = field(default_factory=dict, repr=False)
    # Paired-bootstrap significance of the shown languages (with_significance);
    # None: not computed (yet).
    significance: TargetSignificance | None = field(default=None, repr=False)

    # What the columns are, and which summarise the others (for the PNG).
    column_axis: ClassVar[str] = "language (zero-shot)"
    summary_columns: ClassVar[tuple[str, ...]] = (AVG,)

    @property
    def has_baseline(self) -> bool:
        return self.table is not None and BASELINE in self.table.rows

    @property
    def filtered(self) -> bool:
        return len(self.shown_languages) < len(self.languages)

    def detail(self, row: str, column: str) -> CellDetail | None:
        table = self.table
        cell = table.cell(row, column) if table else None
        if table is None or cell is None:
            return None
        base = table.cell(BASELINE, column)
        if column == AVG:
            langs = self.shown_languages
            parts = [self._cells.get((row, lg)) for lg in langs]
            per_seed: dict[int, list[float]] = {}
            for part in parts:
                for seed, v in (part.seed_means() if part else {}).items():
                    per_seed.setdefault(seed, []).append(v)
            seeds = tuple(
                (s, statistics.fmean(v))
                for s, v in sorted(per_seed.items())
                if len(v) == len(langs)
            )
            counts = [p.n_examples for p in parts if p and p.n_examples is not None]
            n_examples = sum(counts) if counts else None
            run_ids = sorted({r for p in parts if p for r in p.run_ids})
            languages = tuple(langs) if self.filtered else ()
        else:
            part = self._cells.get((row, column), _CellRecords())
            seeds = tuple(part.seed_means().items())
            n_examples = part.n_examples
            run_ids = sorted(part.run_ids)
            languages = ()
        return CellDetail(
            row=row,
            column=column,
            target=self.target,
            metric=self.metric,
            seeds=seeds,
            mean=cell.mean,
            std=cell.std,
            delta=cell.delta,
            baseline=base.mean if base is not None and row != BASELINE else None,
            n_examples=n_examples,
            run_ids=tuple(run_ids),
            languages=languages,
            split=self.split,
            not_comparable=cell.not_comparable,
        )

    def cell_text(self, row: str, column: str) -> str:
        """Cell text for tables written to files: score±std, or the change,
        with the significance marks of the screen."""
        text = _cell_text(self, row, column)
        if self.significance is None or text == MISSING:
            return text
        return text + significance_marks(self.significance, row, column)

    def significance_legend(self) -> list[str]:
        """What the significance marks mean (settings, correction, reference
        levels, collapsed cells, cells without predictions)."""
        return self.significance.legend() if self.significance else []

    def note(self) -> str:
        """One line saying what the numbers are, for titles and captions."""
        text = _note(self)
        if self.filtered:
            text += f"; avg over {', '.join(self.shown_languages)}"
        return text


# -- significance marks and details (engine.significance) ----------------------


def significance_marks(sig: TargetSignificance, row: str, column: str) -> str:
    """The plain-character marks of a cell (they survive NO_COLOR): COLLAPSED
    when the model predicts one class for nearly every example, SIGNIFICANT
    when the change against the baseline is significant after correction,
    NO_PREDICTIONS when the cell has no per-example predictions (or, in the
    average column, a language of the row has none)."""
    from engine.significance import COLLAPSED, NO_PREDICTIONS, SIGNIFICANT

    marks = ""
    check = sig.collapse.get((row, column))
    if check is not None and check.collapsed:
        marks += COLLAPSED
    result = sig.results.get((row, column))
    if result is not None and result.significant:
        marks += SIGNIFICANT
    if result is None and (
        (row, column) in sig.missing
        or (column == AVG and row != BASELINE and any(r == row for r, _ in sig.missing))
    ):
        marks += NO_PREDICTIONS
    return marks


def with_significance(view: ResultsView, sig: TargetSignificance) -> ResultsView:
    """`view` with its cells marked and the legend's line added. A table
    none of whose cells kept predictions (scored before they were kept) says
    so once in the legend rather than marking every cell."""
    from engine.significance import NO_PREDICTIONS

    scored = [
        (row, col)
        for row in view.rows
        for col in view.columns
        if col != AVG and view.value(row, col) is not None
    ]
    none_kept = bool(scored) and all(key in sig.missing for key in scored)
    if none_kept:
        note = (
            f"{NO_PREDICTIONS} no per-example predictions in this table: no intervals"
        )
        return replace(view, footnotes=(*view.footnotes, note), significance=sig)
    suffixes = dict(view.suffixes)
    for row in view.rows:
        for column in view.columns:
            if view.value(row, column) is None:
                continue
            marks = significance_marks(sig, row, column)
            if marks:  # after a not-comparable mark, as in files (cell_text)
                suffixes[(row, column)] = suffixes.get((row, column), "") + marks
    notes = (*view.footnotes, significance_legend_line(sig, suffixes.values()))
    return replace(view, suffixes=suffixes, footnotes=notes, significance=sig)


def significance_legend_line(sig: TargetSignificance, suffixes: Iterable[str]) -> str:
    """One line under the heatmap: what the marks shown mean, with the
    correction and resamples. (Files carry the engine's full legend; the
    detail panel the reference levels and reasons of a cell.)"""
    from engine.significance import (
        COLLAPSED,
        CORRECTION_NAMES,
        NO_PREDICTIONS,
        SIGNIFICANT,
    )

    settings = sig.settings
    shown = "".join(suffixes)
    how = CORRECTION_NAMES[settings.correction]
    after = "with no correction" if settings.correction == "none" else f"after {how}"
    parts = [
        f"{SIGNIFICANT} significant at {settings.alpha:g} {after} over "
        f"{sig.n_comparisons} comparisons (paired bootstrap, "
        f"{settings.n_resamples} resamples, seed {settings.seed})"
    ]
    if COLLAPSED in shown:
        parts.append(f"{COLLAPSED} collapsed (one class predicted)")
    if NO_PREDICTIONS in shown:
        parts.append(f"{NO_PREDICTIONS} no per-example predictions")
    return " · ".join(parts)


def significance_lines(view: ResultsView, row: str, column: str) -> list[str]:
    """The detail panel's lines on the cell's significance: the change, its
    interval, p and adjusted p, paired examples; the language's majority and
    chance levels; why a cell is collapsed or has no interval."""
    from engine.significance import (
        COLLAPSED,
        CORRECTION_NAMES,
        NO_PREDICTIONS,
        SIGNIFICANT,
        collapse_text,
    )

    sig = view.significance
    if sig is None:
        return []
    k = metric_scale(view.metric)
    digits = 1 if k == 100.0 else 3

    def fmt(v: float, sign: str = "") -> str:
        return f"{v * k:{sign}.{digits}f}"

    out = []
    result = sig.results.get((row, column))
    if result is not None:
        settings = sig.settings
        verdict = (
            f"{SIGNIFICANT} significant"
            if result.significant
            else f"not significant at {settings.alpha:g}"
        )
        how = CORRECTION_NAMES[result.correction]
        out.append(
            f"change {fmt(result.delta, '+')}, {settings.confidence:.0%} interval "
            f"[{fmt(result.low, '+')}, {fmt(result.high, '+')}] · p {result.p:.3f}"
            f" · adjusted p {result.p_adjusted:.3f} ({how}, "
            f"{sig.n_comparisons} comparisons) · {verdict}"
        )
        out.append(
            f"paired bootstrap on {result.n_examples} examples both scored"
            f" · {result.n_seeds} seed(s) · {result.n_resamples} resamples,"
            f" seed {result.seed}"
        )
    elif (row, column) in sig.missing:
        out.append(f"{NO_PREDICTIONS} {sig.missing[row, column]}")
    elif column == AVG and row != BASELINE:
        lacking = [lg for r, lg in sig.missing if r == row]
        if lacking:
            out.append(
                f"{NO_PREDICTIONS} no interval for the average: "
                f"{', '.join(lacking)} without per-example predictions"
            )
    languages = view.shown_languages if column == AVG else [column]
    levels = [
        f"{lg} majority class {fmt(ref.majority)} ('{ref.majority_label}'),"
        f" chance {fmt(ref.chance)} ({ref.n_classes} classes)"
        for lg in languages
        if (ref := sig.references.get(lg)) is not None
    ]
    if levels:
        out.append("reference levels of the gold: " + "; ".join(levels))
    check = sig.collapse.get((row, column))
    if check is not None and check.collapsed:
        out.append(
            f"{COLLAPSED} collapsed: {collapse_text(row, column, check)}: the model"
            " predicts one class for nearly every example, so its score says how"
            " frequent that class is, not what it learned"
        )
    return out


def language_order(target: str, run: Mapping[str, Any] | None = None) -> tuple:
    """The target's languages as the run's config listed them, else as the task
    registry does; () when neither knows (first-seen order then)."""
    langs = ((run or {}).get("config") or {}).get("languages") or {}
    if isinstance(langs, Mapping) and langs.get(target):
        return tuple(langs[target])
    from engine.tasks import REGISTRY

    task = REGISTRY.get(target)
    return tuple(task.languages) if task else ()


def build_view(
    records: Sequence[Record], state: ViewState, order: Sequence[str] = ()
) -> ResultsView:
    """The heatmap of `state.target` from the run's records (records of other
    targets are ignored). A filter that would hide every language is ignored."""
    target = state.target or ""
    recs = [r for r in records if r.get("target") == target]
    split = state.split if state.split in splits_in(recs) else default_split(recs)
    recs = of_split(recs, split or "")
    seen = list(dict.fromkeys(r["language"] for r in recs))
    languages = [lg for lg in order if lg in seen]
    languages += [lg for lg in seen if lg not in languages]
    shown = [lg for lg in languages if lg not in state.hidden_languages] or languages
    if len(shown) < len(languages):
        keep = set(shown)
        recs = [r for r in recs if r["language"] in keep]
    table = pivot(recs, target, shown, split=split)

    cells: dict[Key, _CellRecords] = {}
    for r in recs:
        part = cells.get((r["intermediate"], r["language"]))
        if part is None:
            part = cells[(r["intermediate"], r["language"])] = _CellRecords()
        part.seeds.setdefault(r["seed"], []).append(float(r["value"]))
        n = r.get("n_examples")
        if isinstance(n, int):
            part.n_examples = max(n, part.n_examples or 0)
        part.run_ids.add(r["run_id"])

    has_baseline = BASELINE in table.rows
    delta_mode = state.mode == DELTA
    values: dict[Key, float] = {}
    for (row, col), cell in table.cells.items():
        if delta_mode and row != BASELINE:
            if cell.delta is not None:
                values[(row, col)] = cell.delta
        else:
            values[(row, col)] = cell.mean

    sort_column = state.sort_column if state.sort_column in table.columns else None
    if sort_column is not None:
        table.rows = _sorted_rows(table.rows, values, sort_column, state.descending)

    k = metric_scale(table.metric)
    return ResultsView(
        mode=state.mode,
        rows=list(table.rows),
        columns=list(table.columns),
        values=values,
        scales=dict.fromkeys(table.columns, k),
        reference_rows=frozenset({BASELINE})
        if delta_mode and has_baseline
        else frozenset(),
        title=" · ".join(x for x in (target, table.metric, split) if x),
        split=split or "",
        suffixes=_suffixes(table),
        footnotes=tuple(footnotes(table)),
        run_id=state.run_id or "",
        target=target,
        metric=table.metric,
        languages=languages,
        shown_languages=shown,
        sort_column=sort_column,
        descending=state.descending,
        table=table,
        _cells=cells,
    )


def _suffixes(table: Pivot) -> dict[Key, str]:
    return {key: cell_marks(c) for key, c in table.cells.items() if cell_marks(c)}


def _sorted_rows(
    rows: Sequence[str], values: Mapping[Key, float], column: str, descending: bool
) -> list[str]:
    pinned = [r for r in rows if r == BASELINE]
    rest = [r for r in rows if r != BASELINE]
    present = [r for r in rest if (r, column) in values]
    missing = [r for r in rest if (r, column) not in values]
    # sorted() is stable: ties keep the run's order, in either direction.
    present.sort(key=lambda r: values[(r, column)], reverse=descending)
    return pinned + present + missing


# -- the overview of a run ------------------------------------------------------------


def build_overview(
    records: Sequence[Record],
    mode: str = SCORE,
    order_of: Callable[[str], Sequence[str]] = lambda target: (),
    split: str | None = None,
) -> Grid:
    """Average over languages per target task (columns) and intermediate choice
    (rows), for all the records given (one run's) on one split (`split` when
    the run has it, else the default). A row missing a language of a target
    has no average there (as in the heatmap's avg column)."""
    split = split if split in splits_in(records) else default_split(records)
    by_target: dict[str, list[Record]] = {}
    for r in of_split(records, split or ""):
        by_target.setdefault(r["target"], []).append(r)
    rows: list[str] = []
    values: dict[Key, float] = {}
    scales: dict[str, float] = {}
    suffixes: dict[Key, str] = {}
    notes: list[str] = []
    has_baseline = False
    for target, recs in by_target.items():
        table = pivot(recs, target, order_of(target))
        scales[target] = metric_scale(table.metric)
        notes += [n for n in footnotes(table) if n not in notes]
        for row in table.rows:
            if row not in rows:
                rows.append(row)
            cell = table.cell(row, AVG)
            if cell is None:
                continue
            if cell_marks(cell):
                suffixes[(row, target)] = cell_marks(cell)
            if mode == DELTA and row != BASELINE:
                if cell.delta is not None:
                    values[(row, target)] = cell.delta
            else:
                values[(row, target)] = cell.mean
        has_baseline = has_baseline or BASELINE in table.rows
    if BASELINE in rows:
        rows.remove(BASELINE)
        rows.insert(0, BASELINE)
    return Grid(
        mode=mode,
        rows=rows,
        columns=list(by_target),
        values=values,
        scales=scales,
        reference_rows=frozenset({BASELINE})
        if mode == DELTA and has_baseline
        else frozenset(),
        title=f"average over languages per target task · {split}",
        split=split or "",
        suffixes=suffixes,
        footnotes=tuple(notes),
    )


# -- the XTREME table of a run --------------------------------------------------------

XTREME = "xtreme"  # the view's name in export file names


def no_xtreme_message(run_id: str, targets: Sequence[str]) -> str:
    have = f"its targets are {', '.join(targets)}; " if targets else ""
    return (
        f"this run ({run_id}) has no XTREME target task: {have}the XTREME table "
        f"needs one of {', '.join(xtreme.XTREME_TASKS)}"
    )


@dataclass(frozen=True)
class XtremeDetail(CellDetail):
    averages: str = ""  # what the cell averages: languages, tasks, or the caption
    values: tuple[float, ...] = ()  # per seed, in seed order

    def lines(self) -> list[str]:
        first, seeds, summary = super().lines()[:3]
        if not self.seeds and self.values:  # seeds not told apart: values only
            seeds = "per seed: " + "  ".join(
                score_text(v, self.metric) for v in self.values
            )
        out = [first, seeds, summary, self.averages]
        return out + ([self.marks_line()] if self.not_comparable else [])


@dataclass
class XtremeView(Grid):
    """The paper's aggregate table (engine.xtreme_report.xtreme_pivot) as a
    grid, in the units and modes of the other views, and with what the
    exporters read (table, cell_text, note), so a file written is this view."""

    run_id: str = ""
    target: str = XTREME
    metric: str = XTREME_METRIC
    caption: str = ""
    tasks: list[str] = field(default_factory=list)  # the task columns
    table: Pivot | None = None
    _records: list[Record] = field(default_factory=list, repr=False)
    _languages: dict[Key, tuple[str, ...]] = field(default_factory=dict, repr=False)
    _by_seed: dict[int, Pivot] | None = field(default=None, repr=False)

    column_axis: ClassVar[str] = "XTREME task · group score · overall"
    filtered: ClassVar[bool] = False

    @property
    def summary_columns(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c not in self.tasks)

    @property
    def has_baseline(self) -> bool:
        return self.table is not None and BASELINE in self.table.rows

    def cell_text(self, row: str, column: str) -> str:
        return _cell_text(self, row, column)

    def note(self) -> str:
        return f"{_note(self)}; {self.caption}"

    def languages(self, row: str, task: str) -> tuple[str, ...]:
        return self._languages.get((row, task), ())

    def averages(self, row: str, column: str) -> str:
        """What the cell at (row, column) is the mean of."""
        if column in self.tasks:
            langs = self.languages(row, column)
            what = (
                "(EM+F1)/2 (QA)"
                if column in xtreme.QA_TASKS
                else task_metric(column).primary
            )
            over = f"its {len(langs)} languages ({', '.join(langs)})"
            text = f"{column}: mean over {over if langs else 'its languages'}"
            text += f" of {what}"
            cell = self.table.cell(row, column) if self.table else None
            if cell is not None and cell.coverage is not None:
                covered, of = cell.coverage
                text += (
                    f"; partial: {covered} of XTREME's {of} languages, "
                    "left out of group and overall scores"
                )
            base = self.languages(BASELINE, column)
            if row != BASELINE and base and set(base) != set(langs):
                text += f"; the baseline's: {len(base)} languages"
            return text
        if column in xtreme.GROUPS or column == OVERALL:
            members = xtreme.GROUPS.get(column, xtreme.XTREME_TASKS)
            used = [t for t in members if t in self.complete_tasks(row)]
            what = (
                f"{column}: mean of the task scores of {', '.join(members)}"
                if column in xtreme.GROUPS
                else self.caption
            )
            if len(used) < len(members):
                what += f"; covers {len(used)}/{len(members)}: {', '.join(used)}"
            return what
        return ""

    def complete_tasks(self, row: str) -> list[str]:
        """The row's tasks that enter its aggregates: every language, comparable."""
        table = self.table
        out = []
        for task in self.tasks:
            cell = table.cell(row, task) if table else None
            if cell and cell.coverage is None and not cell.not_comparable:
                out.append(task)
        return out

    def missing(self, row: str, column: str) -> list[str]:
        """The tasks the row lacks for a group or overall cell."""
        if column in xtreme.GROUPS:
            needed = list(xtreme.GROUPS[column])
        elif column == OVERALL:
            needed = self.tasks
        else:
            needed = [column]
        table = self.table
        return [t for t in needed if table is None or table.cell(row, t) is None]

    def _seed_tables(self) -> dict[int, Pivot]:
        if self._by_seed is None:
            seeds = sorted({r["seed"] for r in self._records})
            self._by_seed = {
                s: xtreme_pivot([r for r in self._records if r["seed"] == s])
                for s in seeds
            }
        return self._by_seed

    def seeds(self, row: str, column: str) -> tuple[tuple[int, float], ...]:
        out = []
        for seed, table in self._seed_tables().items():
            tasks = [c for c in table.columns if c in xtreme.XTREME_TASKS]
            if column == OVERALL and tasks != self.tasks:
                continue  # this seed lacks a task: no overall score of its own
            cell = table.cell(row, column)
            if column not in self.tasks and cell is not None:
                mine = self.table.cell(row, column) if self.table else None
                if mine is None or mine.coverage != cell.coverage:
                    continue  # this seed's aggregate covers other tasks
            if cell is not None:
                out.append((seed, cell.values[0]))
        return tuple(out)

    def detail(self, row: str, column: str) -> XtremeDetail | None:
        table = self.table
        cell = table.cell(row, column) if table else None
        if table is None or cell is None:
            return None
        base = table.cell(BASELINE, column)
        seeds = self.seeds(row, column)
        if len(seeds) != len(cell.values) or not all(
            math.isclose(v, w, rel_tol=1e-9, abs_tol=1e-12)
            for (_, v), w in zip(seeds, cell.values, strict=True)
        ):
            seeds = ()  # cannot tell which seed is which
        return XtremeDetail(
            row=row,
            column=column,
            target="XTREME",
            metric=self.metric,
            seeds=seeds,
            mean=cell.mean,
            std=cell.std,
            delta=cell.delta,
            baseline=base.mean if base is not None and row != BASELINE else None,
            n_examples=None,
            run_ids=(self.run_id,),
            split=self.split,
            not_comparable=cell.not_comparable,
            averages=self.averages(row, column),
            values=tuple(cell.values),
        )


def _cell_text(view: ResultsView | XtremeView, row: str, column: str) -> str:
    cell = view.table.cell(row, column) if view.table else None
    if cell is None:
        return MISSING
    if view.shows_change(row):
        if cell.delta is None:
            return MISSING
        k = metric_scale(view.metric)
        text = f"{cell.delta * k:+.1f}" if k == 100.0 else f"{cell.delta:+.3f}"
        return text + cell_marks(cell)
    return format_cell(cell, view.metric, with_delta=False)


def _note(view: ResultsView | XtremeView) -> str:
    cells = view.table.cells.values() if view.table else ()
    seeds = max((len(c.values) for c in cells), default=0)
    stat = f"mean±std over {seeds} seeds" if seeds > 1 else "one seed"
    if view.mode == DELTA:
        what = "change against the baseline, baseline row: score"
    else:
        what = "score"
    return f"{what}; {stat}"  # the split: the table's own caption says it


def build_xtreme(
    records: Sequence[Record],
    mode: str = SCORE,
    order_of: Callable[[str], Sequence[str]] = lambda task: (),
    run_id: str = "",
    split: str | None = None,
) -> XtremeView:
    """The XTREME table of one run's records on one split (`split` when the
    run has it, else the default; non-XTREME targets are ignored; no rows
    when the run has none). Raises ValueError when a record lacks what its
    task's score needs (a QA result without exact_match, say)."""
    recs = [r for r in records if r["target"] in xtreme.XTREME_TASKS]
    split = split if split in splits_in(recs) else default_split(recs)
    recs = of_split(recs, split or "")
    table = xtreme_pivot(recs, split)
    tasks = [c for c in table.columns if c in xtreme.XTREME_TASKS]
    languages: dict[Key, tuple[str, ...]] = {}
    for task in tasks:
        order = tuple(order_of(task))
        for row in table.rows:
            seen = list(
                dict.fromkeys(
                    r["language"]
                    for r in recs
                    if r["target"] == task and r["intermediate"] == row
                )
            )
            known = [lg for lg in order if lg in seen]
            languages[(row, task)] = (*known, *(lg for lg in seen if lg not in known))
    delta_mode = mode == DELTA
    values: dict[Key, float] = {}
    for (row, col), cell in table.cells.items():
        if delta_mode and row != BASELINE:
            if cell.delta is not None:
                values[(row, col)] = cell.delta
        else:
            values[(row, col)] = cell.mean
    has_baseline = BASELINE in table.rows
    return XtremeView(
        mode=mode,
        rows=list(table.rows),
        columns=list(table.columns),
        values=values,
        scales=dict.fromkeys(table.columns, metric_scale(XTREME_METRIC)),
        reference_rows=frozenset({BASELINE})
        if delta_mode and has_baseline
        else frozenset(),
        title=" · ".join(x for x in ("XTREME", XTREME_METRIC, split) if x),
        split=split or "",
        suffixes=_suffixes(table),
        footnotes=tuple(footnotes(table)),
        run_id=run_id,
        caption=caption(table),
        tasks=tasks,
        table=table,
        _records=recs,
        _languages=languages,
    )
