"""Write the results view on screen to files for a paper: CSV, Markdown, LaTeX
and a PNG heatmap. What is written is the view: its languages (filter), its
row order (sort) and its mode (scores, or changes against the baseline). The
XTREME table of a run is written the same way (its columns are tasks, group
scores and the overall score).

Every file names the view's evaluation split (CSV: a `split` column;
Markdown, LaTeX, PNG: the caption or title) and carries the not-comparable
marks with their reasons, and the significance marks of the screen (*, !, ?;
engine.significance) once computed, with the engine's legend under Markdown
and LaTeX tables (engine.significance_report, as `xlt-engine results --ci`).

Files go to `<workspace>/exports/<run_id>-<target>-<split>-<mode>.<ext>` (target
"xtreme" for the XTREME table); writing again replaces them (atomically: a
reader never sees half a file).

Once the screen has computed a heatmap's intervals, a CSV export also writes
`<stem>-intervals.csv`: one line per cell (intermediate, language or avg)
with the fields of `xlt-engine results --ci --format csv` under the same
names (ci_low, ci_high, p, p_adjusted, significant, collapsed, ...: one
source, engine.significance.TargetSignificance.fields). A separate file
because the view's CSV is wide (a column per language) and the interval
fields are per cell.

Light module: no torch, no textual; matplotlib is imported only to draw a PNG.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from engine.atomic import write_text_atomic
from engine.config import BASELINE
from engine.report import Pivot, render_latex, render_markdown
from engine.workspace import Workspace
from xlt_tui.results_view import (
    AVG,
    DELTA,
    SCORE,
    ResultsView,
    XtremeView,
    interpolate,
    text_colour,
)

View = ResultsView | XtremeView

FORMATS = {"csv": "CSV", "md": "Markdown", "tex": "LaTeX", "png": "PNG heatmap"}
NOTHING_TO_EXPORT = "nothing to export: the view has no results"


def export_path(workspace: Workspace | Path, view: View, ext: str) -> Path:
    """Where `view` is written as `ext` in the workspace (or its root)."""
    if not isinstance(workspace, Workspace):
        workspace = Workspace(Path(workspace))
    parts = (view.run_id, view.target, view.split, view.mode)
    stem = "-".join(_safe(x) for x in parts if x)
    return workspace.export_file(f"{stem}.{ext}")


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._@+=-]+", "_", text) or "_"


def export_view(view: View, workspace: Workspace | Path, ext: str) -> Path:
    """Write `view` as `ext` (csv, md, tex, png); returns the path written."""
    if ext not in FORMATS:
        raise ValueError(
            f"unknown export format '{ext}'; expected one of {list(FORMATS)}"
        )
    if view.table is None or view.empty:
        raise ValueError(NOTHING_TO_EXPORT)
    path = export_path(workspace, view, ext)
    path.parent.mkdir(parents=True, exist_ok=True)
    if ext == "png":
        _write_png_atomic(view, path)
    else:
        write_text_atomic(
            path, {"csv": to_csv, "md": to_markdown, "tex": to_latex}[ext](view)
        )
    return path


def export_all(view: View, workspace: Workspace | Path) -> list[Path]:
    return [export_view(view, workspace, ext) for ext in FORMATS]


def export_files(view: View, workspace: Workspace | Path, ext: str) -> list[Path]:
    """Write `view` as `ext`; with a CSV, the intervals file too when the
    view's intervals were computed. Every path written."""
    paths = [export_view(view, workspace, ext)]
    text = intervals_csv(view) if ext == "csv" else None
    if text is not None:
        path = intervals_path(paths[0])
        write_text_atomic(path, text)
        paths.append(path)
    return paths


def intervals_path(csv_path: Path) -> Path:
    return csv_path.with_name(f"{csv_path.stem}-intervals.csv")


# -- what the engine draws and writes (engine/figures, engine/html_report) ----------

# Run as `xlt-engine` in a child process, as engine_client's dry run is: the
# figures read the run's stage files and draw with matplotlib; the TUI stays
# out of that code and shows the engine's own words when it refuses.
ENGINE_EXPORTS = {
    "figure": "the paper's figures (xlt-engine plot)",
    "html": "HTML report of the run (xlt-engine report)",
}
ENGINE_TIMEOUT_S = 300.0


def engine_export_commands(kind: str, view: View) -> list[list[str]]:
    """The `xlt-engine` commands behind an engine export of `view`'s run:
    "figure": the main figure, and the per-language figure of the shown
    target (not for the XTREME table); "html": the run's report."""
    if kind == "html":
        return [["report", view.run_id]]
    if kind != "figure":
        raise ValueError(
            f"unknown engine export '{kind}'; expected one of {list(ENGINE_EXPORTS)}"
        )
    commands = [["plot", "main", "--run", view.run_id]]
    if isinstance(view, ResultsView) and view.target:
        commands.append(["plot", "languages", "--run", view.run_id])
        commands[-1] += ["--target", view.target]
    return commands


def export_with_engine(kind: str, view: View, workspace: Workspace) -> list[Path]:
    """Run the engine's commands for `kind`; the paths they wrote. ValueError
    with the engine's message when one refuses."""
    paths = []
    for command in engine_export_commands(kind, view):
        proc = subprocess.run(
            [sys.executable, "-m", "engine.cli", *command]
            + ["--workspace", str(workspace.root)],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=ENGINE_TIMEOUT_S,
            env={**os.environ, "COLUMNS": "10000", "NO_COLOR": "1"},
        )
        if proc.returncode != 0:
            from xlt_tui.engine_client import engine_message

            raise ValueError(f"xlt-engine {command[0]}: {engine_message(proc.stderr)}")
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        paths.append(Path(lines[-1].strip()))  # the engine prints what it wrote
    return paths


# -- tables --------------------------------------------------------------------


def to_csv(view: View) -> str:
    """One line per row of the view, one column per column of the view, plus
    `quantity` (score or delta: in delta mode the baseline row holds scores),
    `split` (the evaluation split of every number) and `marks`: what the
    view's cell texts add to a number (an XTREME task's coverage "(3/15)",
    the not-comparable mark with its reason), per column. Numbers are the
    view's, in its units (percent for accuracy-like metrics), unrounded; a
    cell without a value is empty."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["intermediate", "quantity", *view.columns, "split", "marks"])
    table = view.table
    for row in view.rows:
        quantity = DELTA if view.shows_change(row) else SCORE
        cells = []
        for col in view.columns:
            value = view.value(row, col)
            cells.append(
                "" if value is None else repr(round(value * view.scales[col], 6))
            )
        marks = []
        for col in view.columns:
            cell = table.cell(row, col) if table else None
            suffix = view.suffixes.get((row, col), "").strip()
            if cell is None or not suffix:
                continue
            why = "; ".join(cell.not_comparable)
            marks.append(
                f"{col}: {suffix}" + (f" not comparable: {why}" if why else "")
            )
        writer.writerow([row, quantity, *cells, view.split, " | ".join(marks)])
    return buf.getvalue()


# The cell's identity in the CLI's column names (engine.store.RESULT_KEYS);
# "aggregate" is true on the average, as on the CLI's average rows.
INTERVAL_KEYS = (
    "run_id",
    "target",
    "split",
    "intermediate",
    "language",
    "metric",
    "value",
    "aggregate",
)


def intervals_csv(view: View) -> str | None:
    """One line per cell of the view with its significance fields, named as
    `xlt-engine results --ci --format csv` names them; `value` is the cell's
    mean over seeds, unscaled (a fraction, as the CLI writes it). None when
    the view has no intervals (not computed yet, no baseline, the XTREME
    table)."""
    if not isinstance(view, ResultsView) or view.table is None:
        return None
    sig = view.significance
    if sig is None or not sig.results:
        return None
    rows = []
    for row in view.rows:
        for col in view.columns:
            cell = view.table.cell(row, col)
            if cell is None or not cell.values:
                continue
            rows.append(
                {
                    "run_id": view.run_id,
                    "target": view.target,
                    "split": view.split,
                    "intermediate": row,
                    "language": col,
                    "metric": view.metric,
                    "value": cell.mean,
                    "aggregate": col == AVG,
                    **sig.fields(row, col),
                }
            )
            lacking = [lg for r, lg in sig.missing if r == row]
            if col == AVG and row != BASELINE and not rows[-1]["no_ci"] and lacking:
                # The CLI writes no average line then; this file says why.
                rows[-1]["no_ci"] = (
                    f"no interval for the average: {', '.join(lacking)} "
                    "without per-example predictions"
                )
    keys = list(INTERVAL_KEYS)
    for r in rows:  # a code target adds its pass@k columns
        keys.extend(k for k in r if k not in keys)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    for r in rows:  # lists (a pass@k interval) as JSON, as engine.report does
        writer.writerow(
            {
                k: json.dumps(v) if isinstance(v, (list, dict)) else v
                for k, v in r.items()
            }
        )
    return buf.getvalue()


def _table(view: View) -> Pivot:
    if view.table is None:
        raise ValueError(NOTHING_TO_EXPORT)
    return view.table


def _significance_legend(view: View) -> list[str]:
    """The legend of the view's significance marks (*, !, ?); none when the
    view has no significance computed (the XTREME table never has)."""
    return view.significance_legend() if isinstance(view, ResultsView) else []


def to_markdown(view: View) -> str:
    from engine.significance_report import markdown_legend

    text = render_markdown(_table(view), cell_text=view.cell_text, note=view.note())
    return text + markdown_legend(_significance_legend(view))


def to_latex(view: View) -> str:
    from engine.significance_report import latex_legend

    text = render_latex(_table(view), cell_text=view.cell_text, note=view.note())
    return text + latex_legend(_significance_legend(view))


# -- the heatmap for a paper ---------------------------------------------------------


def _write_png_atomic(view: View, path: Path) -> None:
    tmp = Workspace.partial(path)
    try:
        write_png(view, tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_png(view: View, path: Path, dpi: int = 200) -> None:
    """The heatmap as a figure: annotated cells, colour bar, labelled axes and
    a title naming the target and metric. Same colours as on screen."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.colors import LinearSegmentedColormap, Normalize
    from matplotlib.figure import Figure

    rows, cols = view.rows, view.columns
    k = view.scale
    stops = view.paper_stops  # white paper, whatever the screen's theme
    gradient = LinearSegmentedColormap.from_list(view.mode, list(stops))
    cmap = gradient.with_extremes(bad="#ffffff")  # NaN: a blank cell
    lo, hi = view.vmin * k, view.vmax * k
    if hi <= lo:  # one value, or all changes 0: centre it on the scale
        lo, hi = lo - 1.0, hi + 1.0
    norm = Normalize(vmin=lo, vmax=hi)

    def shown(row: str, column: str) -> float:
        value = view.value(row, column)
        if value is None or view.is_reference(row):
            return float("nan")  # a blank cell
        return value * k

    grid = [[shown(r, c) for c in cols] for r in rows]
    width = min(24.0, 2.2 + 0.75 * len(cols))
    height = min(18.0, 1.6 + 0.42 * len(rows))
    fig = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(grid, cmap=cmap, norm=norm, aspect="auto")
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            text = view.text(r, c)
            value = view.value(r, c)
            if value is None or view.is_reference(r):
                colour = "#444444"
            else:
                colour = text_colour(interpolate(stops, view.fraction(value)))
            weight = "bold" if c in view.summary_columns else "normal"
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=7,
                color=colour,
                weight=weight,
            )
    ax.set_xticks(range(len(cols)), labels=cols, fontsize=8)
    ax.set_yticks(range(len(rows)), labels=rows, fontsize=8)
    ax.tick_params(top=True, bottom=False, labeltop=True, labelbottom=False, length=0)
    ax.set_xlabel(view.column_axis, fontsize=8)
    ax.set_ylabel("intermediate task", fontsize=8)
    summaries = [j for j, c in enumerate(cols) if c in view.summary_columns]
    if summaries and 0 < summaries[0]:  # a rule before the summary columns
        ax.axvline(summaries[0] - 0.5, color="#333333", linewidth=0.8)
    if view.reference_rows and rows and rows[0] in view.reference_rows:
        ax.axhline(0.5, color="#333333", linewidth=0.8)
    legend = view.legend()
    bar = fig.colorbar(image, ax=ax, shrink=0.9, pad=0.02)
    bar.set_label(legend.caption.split(";")[0], fontsize=8)
    bar.ax.tick_params(labelsize=7)
    what = "change against the baseline" if view.mode == DELTA else "zero-shot score"
    title = f"{_table(view).target} · {view.metric} · {what}"
    if view.split:
        title += f" · {view.split} split"
    subtitle = f"run {view.run_id}"
    if isinstance(view, XtremeView):
        subtitle += f" · {view.caption}"
    if view.filtered:
        subtitle += " · avg over the languages shown"
    if view.footnotes:
        subtitle += " · " + " · ".join(view.footnotes)
    ax.set_title(f"{title}\n{subtitle}", fontsize=9)
    fig.savefig(path, format="png", dpi=dpi)
