"""Results as the tables researchers read: one row per intermediate choice
(baseline first), one column per language plus the average, each cell the
zero-shot score (mean ± std over seeds) with its change against the baseline.

Human formats (table, markdown, latex) show that pivot; machine formats (csv,
json) give the raw records, one per seed and language, for pandas and friends.

Light module: no torch.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.config import BASELINE
from engine.store import RESULT_KEYS

FORMATS = ("table", "csv", "json", "markdown", "latex")
PERCENT_METRICS = (
    "accuracy",
    "f1",
    "exact_match",
    "macro_f1",
    "xtreme score",
    "pass@1",
    "pass@10",
    "pass@100",
    "bleu",
)


@dataclass
class Cell:
    values: list[float]  # one per seed
    delta: float | None = None  # mean minus the baseline's mean

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def std(self) -> float | None:
        return statistics.stdev(self.values) if len(self.values) > 1 else None


@dataclass
class Pivot:
    target: str
    metric: str
    rows: list[str]
    columns: list[str]  # languages, then "avg"
    cells: dict[tuple[str, str], Cell] = field(default_factory=dict)
    run_ids: list[str] = field(default_factory=list)

    def cell(self, row: str, column: str) -> Cell | None:
        return self.cells.get((row, column))


def pivot(
    records: Sequence[dict[str, Any]], target: str, language_order: Sequence[str] = ()
) -> Pivot:
    recs = [r for r in records if r["target"] == target]
    rows = baseline_first(r["intermediate"] for r in recs)
    seen_langs = _ordered(r["language"] for r in recs)
    langs = [lg for lg in language_order if lg in seen_langs]
    langs += [lg for lg in seen_langs if lg not in langs]
    metric = recs[0]["metric"] if recs else ""
    table = Pivot(
        target,
        metric,
        rows,
        [*langs, "avg"],
        run_ids=_ordered(r["run_id"] for r in recs),
    )
    by_key: dict[tuple[str, str], dict[int, list[float]]] = {}
    for r in recs:
        by_key.setdefault((r["intermediate"], r["language"]), {}).setdefault(
            r["seed"], []
        ).append(float(r["value"]))
    for row in rows:
        per_seed_avg: dict[int, list[float]] = {}
        for lang in langs:
            seeds = by_key.get((row, lang))
            if not seeds:
                continue
            # Repeated records of one seed (several runs) count once, by their mean.
            values = [statistics.fmean(v) for _, v in sorted(seeds.items())]
            table.cells[(row, lang)] = Cell(values)
            for seed, v in seeds.items():
                per_seed_avg.setdefault(seed, []).append(statistics.fmean(v))
        complete = [
            statistics.fmean(v)
            for s, v in sorted(per_seed_avg.items())
            if len(v) == len(langs)
        ]
        if complete:
            table.cells[(row, "avg")] = Cell(complete)
    set_deltas(table)
    return table


def baseline_first(intermediates) -> list[str]:
    """The rows of a table: intermediate choices in first-seen order, the
    baseline first."""
    rows = _ordered(intermediates)
    if BASELINE in rows:
        rows.remove(BASELINE)
        rows.insert(0, BASELINE)
    return rows


def set_deltas(table: Pivot) -> None:
    """Each cell's change against the baseline's cell of its column."""
    for (row, col), cell in table.cells.items():
        base = table.cells.get((BASELINE, col))
        if row != BASELINE and base is not None:
            cell.delta = cell.mean - base.mean


def _ordered(items) -> list:
    return list(dict.fromkeys(items))  # first-seen order


def _scale(metric: str) -> float:
    # Scores in [0, 1] read as percentages, as papers print them.
    return 100.0 if metric in PERCENT_METRICS else 1.0


def metric_scale(metric: str) -> float:
    """What a stored value of `metric` is multiplied by for display: 100 for
    scores printed as percentages, else 1."""
    return _scale(metric)


def format_cell(
    cell: Cell | None, metric: str, with_delta: bool = True, pm: str = "±"
) -> str:
    if cell is None:
        return "–"
    k = _scale(metric)
    text = f"{cell.mean * k:.1f}"
    if cell.std is not None:
        text += f"{pm}{cell.std * k:.1f}"
    if with_delta and cell.delta is not None:
        text += f" ({cell.delta * k:+.1f})"
    return text


def render_rich(table: Pivot):
    from rich.table import Table
    from rich.text import Text

    seeds = max((len(c.values) for c in table.cells.values()), default=0)
    title = f"{table.target} · {table.metric} · zero-shot"
    if seeds > 1:
        title += f" · mean±std over {seeds} seeds"
    out = Table(
        title=title,
        caption="second line: change against the baseline",
        header_style="bold",
    )
    out.add_column(
        "intermediate", no_wrap=True, min_width=min(16, max(map(len, table.rows)))
    )
    for col in table.columns:
        out.add_column(col, justify="right", no_wrap=True)
    k = _scale(table.metric)
    # Score and change on two lines: a 6-language table still fits 80 columns.
    for row in table.rows:
        cells = []
        for col in table.columns:
            cell = table.cell(row, col)
            text = Text(format_cell(cell, table.metric, with_delta=False))
            if cell is not None and cell.delta is not None:
                colour = "green" if cell.delta > 0 else "red" if cell.delta < 0 else ""
                text.append(f"\n{cell.delta * k:+.1f}", style=colour)
            cells.append(text)
        out.add_row(row, *cells, end_section=row == BASELINE)
    return out


# Renderers take the text of each cell from `cell_text(row, column)` (default:
# score±std with the change in brackets), so a caller such as the TUI's export
# can print the table it shows (scores only, or changes only) in the same frame.
CellText = Callable[[str, str], str]


def _default_cell_text(table: Pivot) -> CellText:
    return lambda row, col: format_cell(table.cell(row, col), table.metric)


def render_markdown(
    table: Pivot,
    cell_text: CellText | None = None,
    note: str = "change against the baseline",
) -> str:
    text_of = cell_text or _default_cell_text(table)
    header = ["intermediate", *table.columns]
    lines = [
        f"**{table.target}** ({table.metric}, zero-shot; {note})",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * len(table.columns)) + "|",
    ]
    for row in table.rows:
        cells = [text_of(row, c) for c in table.columns]
        lines.append("| " + " | ".join([row, *cells]) + " |")
    return "\n".join(lines) + "\n"


def render_latex(
    table: Pivot,
    cell_text: CellText | None = None,
    note: str = "change against the baseline",
) -> str:
    text_of = cell_text or _default_cell_text(table)

    def esc(text: str) -> str:
        for a, b in (
            ("\\", r"\textbackslash{}"),
            ("&", r"\&"),
            ("%", r"\%"),
            ("_", r"\_"),
            ("#", r"\#"),
            ("–", "--"),
        ):
            text = text.replace(a, b)
        return text

    cols = "l" + "r" * len(table.columns)
    lines = [
        f"% {table.target}: {table.metric}, zero-shot; ({note})",
        rf"\begin{{tabular}}{{{cols}}}",
        r"\toprule",
        " & ".join(["Intermediate", *map(esc, table.columns)]) + r" \\",
        r"\midrule",
    ]
    for row in table.rows:
        cells = [esc(text_of(row, c)).replace("±", r"$\pm$") for c in table.columns]
        lines.append(" & ".join([esc(row), *cells]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def records_csv(records: Sequence[dict[str, Any]]) -> str:
    keys = list(RESULT_KEYS)
    for r in records:
        for k in r:
            if k not in keys:
                keys.append(k)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    for r in records:
        writer.writerow(r)
    return buf.getvalue()


def records_json(records: Sequence[dict[str, Any]]) -> str:
    return json.dumps(list(records), ensure_ascii=False, indent=1)
