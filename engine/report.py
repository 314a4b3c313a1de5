"""Results as the tables researchers read: one row per intermediate choice
(baseline first), one column per language plus the average, each cell the
zero-shot score (mean ± std over seeds) with its change against the baseline.

Human formats (table, markdown, latex) show that pivot; machine formats (csv,
json) give the raw records, one per seed and language, for pandas and friends.

A table is of one evaluation split (validation or test) and says which; a
pivot of records of two splits is refused. A result recorded as not
comparable (`comparable: false`, with its reason in `not_comparable`) is
marked with NOT_COMPARABLE in its cell and in every average that includes it,
and the reasons are the table's footnotes.

Light module: no torch.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.config import BASELINE
from engine.store import RESULT_KEYS

FORMATS = ("table", "csv", "json", "markdown", "latex")
SPLITS = ("validation", "test")
# A plain character, so the mark survives NO_COLOR, copy-paste and CSV.
NOT_COMPARABLE = "†"
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
    # Why the number is not comparable with others of its column (empty: it is).
    not_comparable: tuple[str, ...] = ()
    # (covered, of): an XTREME task's languages, or an aggregate's tasks; None
    # when complete.
    coverage: tuple[int, int] | None = None
    label: str = ""  # what the cell stands for, e.g. the intermediate chosen

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
    split: str = ""  # the evaluation split every number of the table is on

    def cell(self, row: str, column: str) -> Cell | None:
        return self.cells.get((row, column))

    def not_comparable_reasons(self) -> list[str]:
        """The reasons of every marked cell, once each, in table order."""
        return _ordered(
            reason
            for row in self.rows
            for col in self.columns
            for reason in (
                self.cells[(row, col)].not_comparable
                if (row, col) in self.cells
                else ()
            )
        )


def split_of(record: dict[str, Any]) -> str:
    """A record's evaluation split. Records always carried one; a record
    without it is from a store written before splits were recorded, when only
    test sets were scored."""
    return str(record.get("split") or "test")


def splits_in(records: Iterable[dict[str, Any]]) -> list[str]:
    """The splits present, in SPLITS order (then any other, first seen)."""
    seen = _ordered(split_of(r) for r in records)
    return [s for s in SPLITS if s in seen] + [s for s in seen if s not in SPLITS]


def default_split(records: Iterable[dict[str, Any]]) -> str | None:
    """The split a table shows when none is asked for: validation when there
    are validation results, else test. Validation first because it is what
    one compares and chooses on while developing; test numbers are looked at
    deliberately (`--split test`), so no one tunes on them by accident."""
    present = splits_in(records)
    return present[0] if present else None


def of_split(records: Iterable[dict[str, Any]], split: str) -> list[dict[str, Any]]:
    return [r for r in records if split_of(r) == split]


def one_split(
    records: list[dict[str, Any]], split: str | None, what: str
) -> tuple[list[dict[str, Any]], str]:
    """The records of `split`, and the split; without `split`, the one split
    the records have ("" for none). Records of two splits without `split` are
    refused: a table never mixes validation and test numbers."""
    if split is not None:
        return of_split(records, split), split
    present = splits_in(records)
    if len(present) > 1:
        raise ValueError(
            f"{what} of {' and '.join(present)} in one table; choose one split"
        )
    return records, present[0] if present else ""


def not_comparable_reason(record: dict[str, Any]) -> str | None:
    """The reason a record is not comparable, or None when it is."""
    if record.get("comparable", True) is not False:
        return None
    reason = record.get("not_comparable")
    return str(reason) if reason else "recorded as not comparable"


def footnotes(table: Pivot) -> list[str]:
    """Lines under a table: what the marks in its cells mean."""
    return [
        f"{NOT_COMPARABLE} not comparable: {r}" for r in table.not_comparable_reasons()
    ]


def pivot(
    records: Sequence[dict[str, Any]],
    target: str,
    language_order: Sequence[str] = (),
    split: str | None = None,
) -> Pivot:
    """The table of `target` on `split` (records of other splits are left
    out). Without `split`, the records must be of one split: a table never
    mixes validation and test numbers."""
    recs, split = one_split(
        [r for r in records if r["target"] == target], split, f"{target}: results"
    )
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
        split=split,
    )
    by_key: dict[tuple[str, str], dict[int, list[float]]] = {}
    reasons: dict[tuple[str, str], list[str]] = {}
    for r in recs:
        by_key.setdefault((r["intermediate"], r["language"]), {}).setdefault(
            r["seed"], []
        ).append(float(r["value"]))
        reason = not_comparable_reason(r)
        if reason is not None:
            reasons.setdefault((r["intermediate"], r["language"]), []).append(reason)
    for row in rows:
        per_seed_avg: dict[int, list[float]] = {}
        for lang in langs:
            seeds = by_key.get((row, lang))
            if not seeds:
                continue
            # Repeated records of one seed (several runs) count once, by their mean.
            values = [statistics.fmean(v) for _, v in sorted(seeds.items())]
            marks = tuple(_ordered(reasons.get((row, lang), ())))
            table.cells[(row, lang)] = Cell(values, not_comparable=marks)
            for seed, v in seeds.items():
                per_seed_avg.setdefault(seed, []).append(statistics.fmean(v))
        complete = [
            statistics.fmean(v)
            for s, v in sorted(per_seed_avg.items())
            if len(v) == len(langs)
        ]
        if complete:
            # An average over a number that is not comparable is not either.
            marks = tuple(
                _ordered(m for lg in langs for m in reasons.get((row, lg), ()))
            )
            table.cells[(row, "avg")] = Cell(complete, not_comparable=marks)
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
    return (
        text
        + cell_marks(cell)
        + (f" ({cell.delta * k:+.1f})" if with_delta and cell.delta is not None else "")
    )


def cell_marks(cell: Cell) -> str:
    """What follows a cell's number: its coverage "(3/15)", the intermediate
    it stands for "[mnli]", and the not-comparable mark."""
    text = ""
    if cell.coverage is not None:
        text += f" ({cell.coverage[0]}/{cell.coverage[1]})"
    if cell.label:
        text += f" [{cell.label}]"
    if cell.not_comparable:
        text += NOT_COMPARABLE
    return text


def split_caption(split: str, chosen_by_default: bool = False) -> str:
    """Says which split a table is of, and how that split was chosen."""
    if not split:
        return ""
    if chosen_by_default:
        return f"{split} split (default: validation when present, else test)"
    return f"{split} split"


def render_rich(
    table: Pivot,
    caption: str = "",
    split_note: str = "",
    score_text: Callable[[str, str], str] | None = None,
    change_text: Callable[[str, str], str] | None = None,
):
    """The table for a terminal. `caption` replaces the default caption line;
    `split_note` says how the split was chosen (default: its name).
    `score_text` / `change_text` (row, column) replace a cell's first and
    second line (engine.significance_report: intervals and marks)."""
    from rich.table import Table
    from rich.text import Text

    seeds = max((len(c.values) for c in table.cells.values()), default=0)
    title = f"{table.target} · {table.metric} · zero-shot"
    if table.split:
        title += f" · {table.split}"
    if seeds > 1:
        title += f" · mean±std over {seeds} seeds"
    lines = [
        split_note or split_caption(table.split),
        caption or "second line: change against the baseline",
        *footnotes(table),
    ]
    out = Table(
        title=title,
        caption="\n".join(x for x in lines if x),
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
            text = Text(
                score_text(row, col)
                if score_text
                else format_cell(cell, table.metric, with_delta=False)
            )
            if cell is not None and cell.delta is not None:
                colour = "green" if cell.delta > 0 else "red" if cell.delta < 0 else ""
                change = change_text(row, col) if change_text else ""
                text.append(f"\n{change or f'{cell.delta * k:+.1f}'}", style=colour)
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
    split = f", {table.split} split" if table.split else ""
    lines = [
        f"**{table.target}** ({table.metric}, zero-shot{split}; {note})",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * len(table.columns)) + "|",
    ]
    for row in table.rows:
        cells = [text_of(row, c) for c in table.columns]
        lines.append("| " + " | ".join([row, *cells]) + " |")
    notes = footnotes(table)
    if notes:
        lines += ["", *notes]
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
            (NOT_COMPARABLE, r"$^\dagger$"),
        ):
            text = text.replace(a, b)
        return text

    cols = "l" + "r" * len(table.columns)
    split = f", {table.split} split" if table.split else ""
    lines = [
        f"% {table.target}: {table.metric}, zero-shot{split}; ({note})",
        rf"\begin{{tabular}}{{{cols}}}",
        r"\toprule",
        " & ".join(["Intermediate", *map(esc, table.columns)]) + r" \\",
        r"\midrule",
    ]
    for row in table.rows:
        cells = [esc(text_of(row, c)).replace("±", r"$\pm$") for c in table.columns]
        lines.append(" & ".join([esc(row), *cells]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    # The footnotes print under the table, so the marks read in the paper too.
    lines += [esc(note) + r"\\" for note in footnotes(table)]
    return "\n".join(lines) + "\n"


def source_line(run_id: str, status: str, models: Sequence[str], fmt: str) -> str:
    """The line above a Markdown or LaTeX export naming the run and model(s)."""
    model = ", ".join(models) or "unknown"
    if fmt == "latex":
        return f"% run {run_id} ({status}); model {model}"
    return f"Run `{run_id}` ({status}); model `{model}`"


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
        # Nested values (metrics, provenance) as JSON, so any reader parses them.
        writer.writerow(
            {
                k: json.dumps(v, ensure_ascii=False)
                if isinstance(v, (dict, list))
                else v
                for k, v in r.items()
            }
        )
    return buf.getvalue()


def records_json(records: Sequence[dict[str, Any]]) -> str:
    return json.dumps(list(records), ensure_ascii=False, indent=1)
