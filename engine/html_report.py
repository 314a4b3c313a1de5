"""`xlt-engine report RUN`: one self-contained HTML file to share a run.

Tables of every target (mean ± std over seeds, change against the baseline,
not-comparable marks and their reasons), the figures inline as base64 PNG,
the run's config as TOML and its provenance. No external CSS, script, font
or image: the file opens in any browser, offline, without a server.

Every string that comes from a config, the data or the store is escaped
(html.escape), so a name like `<script>` shows as text and never runs.
Light module: no torch; matplotlib only when a figure is drawn.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from functools import partial
from html import escape
from typing import TYPE_CHECKING, Any

import tomli_w

from engine.errors import InputError
from engine.figures.from_run import NO_INTERVALS, run_changes
from engine.figures.inputs import AVERAGE, Change
from engine.figures.run_data import (
    RunData,
    intermediate_validation,
    learning_curve,
    stage_ids,
    validation_points,
)
from engine.report import (
    NOT_COMPARABLE,
    Pivot,
    cell_marks,
    footnotes,
    metric_scale,
    pivot,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em;
       padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
caption { text-align: left; font-weight: bold; padding: 0.3em 0; }
.delta { color: #555; font-size: 0.85em; }
.note { color: #555; font-size: 0.85em; }
figure { margin: 1em 0; } img { max-width: 100%; height: auto; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dt { font-weight: bold; } dd { margin: 0; }
"""


def build_report(data: RunData) -> str:
    """The whole HTML document of a run."""
    run = data.run
    title = f"xlt run {run.get('name', '')} ({data.run_id})"
    changes, interval_note = run_changes(data) if data.split else ([], NO_INTERVALS)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{_e(title)}</h1>",
        _summary(data),
        _tables(data, changes, interval_note),
        _figures(data, changes, interval_note),
        _config(run),
        _provenance(run),
        f'<p class="note">Written by xlt-engine report on {_now()}.</p>',
        "</body>",
        "</html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _time(value: Any) -> str:
    if not isinstance(value, int | float):
        return "–"
    return datetime.fromtimestamp(value, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _definitions(items: Iterable[tuple[str, Any]]) -> str:
    rows = "".join(
        f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items if v not in (None, "")
    )
    return f"<dl>{rows}</dl>"


def _summary(data: RunData) -> str:
    run = data.run
    config = run.get("config") or {}
    return _definitions(
        [
            ("run id", data.run_id),
            ("name", run.get("name")),
            ("status", run.get("status")),
            ("model", config.get("model")),
            ("started", _time(run.get("started_at"))),
            ("ended", _time(run.get("ended_at"))),
            ("device", run.get("device")),
            ("split shown", data.split or "no results"),
        ]
    )


def _tables(data: RunData, changes: list[Change], interval_note: str) -> str:
    if not data.split:
        return "<h2>Results</h2><p>This run has no results yet.</p>"
    intervals = {
        (c.target, c.intermediate, c.language): c for c in changes if c.has_interval
    }
    out = [
        "<h2>Results</h2>",
        f'<p class="note">Zero-shot scores on the {_e(data.split)} split, mean '
        "± std over seeds; under each, the change against the baseline"
        + (" with its interval [low, high]" if intervals else "")
        + f". {_e(interval_note)}</p>",
    ]
    for target in data.targets:
        levels = _reference_levels(data, target)
        out.append(_table(pivot(data.shown_results, target), intervals, levels))
    return "\n".join(out)


def _reference_levels(data: RunData, target: str) -> Any:
    """Majority-class/chance levels and collapse flags of a target (from the
    predictions files; None where the run has none)."""
    if data.workspace is None or not data.split:
        return None
    from engine.significance import target_significance

    return target_significance(
        data.shown_results, data.workspace, target, data.split, with_intervals=False
    )


def _table(
    table: Pivot, intervals: dict[tuple[str, str, str], Change], levels: Any = None
) -> str:
    k = metric_scale(table.metric)
    head = "".join(f"<th>{_e(c)}</th>" for c in ["intermediate", *table.columns])
    rows = []
    for row in table.rows:
        cells = [f"<th>{_e(row)}</th>"]
        for column in table.columns:
            cell = table.cell(row, column)
            if cell is None:
                cells.append("<td>–</td>")
                continue
            text = f"{cell.mean * k:.1f}"
            if cell.std is not None:
                text += f" ± {cell.std * k:.1f}"
            check = levels.collapse.get((row, column)) if levels else None
            collapsed = "!" if check is not None and check.collapsed else ""
            text = _e(text + cell_marks(cell) + collapsed)
            if cell.delta is not None:
                language = AVERAGE if column == "avg" else column
                c = intervals.get((table.target, row, language))
                delta = f"{cell.delta * k:+.1f}"
                if c is not None and c.low is not None and c.high is not None:
                    delta += f" [{c.low * k:+.1f}, {c.high * k:+.1f}]"
                    delta += "*" if c.significant else ""
                text += f'<br><span class="delta">{_e(delta)}</span>'
            cells.append(f"<td>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    if levels is not None and levels.references:
        # Beside the scores: what predicting the majority class, or guessing,
        # would score on each language's gold.
        cells = ["<th>majority / chance</th>"]
        for column in table.columns:
            ref = levels.references.get(column)
            cells.append(
                f'<td class="note">{ref.majority * 100:.1f} / '
                f"{ref.chance * 100:.1f}</td>"
                if ref is not None
                else "<td></td>"
            )
        rows.append("<tr>" + "".join(cells) + "</tr>")
    caption = f"{table.target} · {table.metric} · {table.split} split"
    lines = list(footnotes(table))
    if levels is not None:
        from engine.significance import collapse_text

        lines += [
            f"! collapsed: {collapse_text(row, language, check)}"
            for (row, language), check in levels.collapse.items()
            if check.collapsed
        ]
    notes = "".join(f'<p class="note">{_e(line)}</p>' for line in lines)
    return (
        f"<table><caption>{_e(caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>{notes}"
    )


def _figures(data: RunData, changes: list[Change], interval_note: str) -> str:
    from engine.figures.languages import draw_languages
    from engine.figures.learning_curve import draw_learning_curve
    from engine.figures.main import draw_main
    from engine.figures.validation_gain import draw_validation_gain

    split = data.split or ""
    out = ["<h2>Figures</h2>"]
    out.append(
        _figure(
            "Change against the baseline per target",
            lambda: draw_main(changes, split, interval_note),
        )
    )
    for target in data.targets:
        out.append(
            _figure(
                f"{target}: change per language",
                partial(
                    draw_languages,
                    changes,
                    target,
                    split=split,
                    interval_note=interval_note,
                ),
            )
        )
    points = validation_points(changes, intermediate_validation(data.events))
    out.append(
        _figure(
            "Intermediate-task validation score vs transfer gain",
            lambda: draw_validation_gain(points, split, interval_note),
        )
    )
    stages = stage_ids(data.events)
    if stages:
        out.append("<h2>Learning curves</h2>")
    for stage in stages:
        curve = learning_curve(data.events, stage)
        if curve.steps or curve.checks:  # a reused stage has no curve of its own
            out.append(
                "<details><summary>"
                + _e(stage)
                + "</summary>"
                + _figure(stage, partial(draw_learning_curve, curve))
                + "</details>"
            )
    return "\n".join(out)


def _figure(caption: str, draw: Callable[[], Figure]) -> str:
    try:
        fig = draw()
    except (ValueError, InputError) as exc:
        return f'<p class="note">{_e(caption)}: not drawn: {_e(exc)}</p>'
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (
        f'<figure><img alt="{_e(caption)}" src="data:image/png;base64,{encoded}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _config(run: dict[str, Any]) -> str:
    config = run.get("config")
    if not config:
        return ""
    try:
        text = tomli_w.dumps(config)
    except (TypeError, ValueError):  # a value TOML cannot hold (None)
        text = json.dumps(config, indent=2, default=str)
    source = run.get("config_file")
    where = f' <span class="note">(from {_e(source)})</span>' if source else ""
    return f"<h2>Config{where}</h2><pre>{_e(text)}</pre>"


def _provenance(run: dict[str, Any]) -> str:
    provenance = dict(run.get("provenance") or {})
    provenance.pop("config", None)  # shown above, as TOML
    items = [
        ("host", run.get("host")),
        ("command", run.get("command")),
        ("git commit", run.get("git_commit") or provenance.get("git_commit")),
        ("xlt", provenance.get("xlt")),
        ("precision", run.get("precision")),
    ]
    return (
        "<h2>Provenance</h2>"
        + _definitions(items)
        + f"<pre>{_e(json.dumps(provenance, indent=2, sort_keys=True, default=str))}"
        "</pre>" + f'<p class="note">{_e(NOT_COMPARABLE)} marks a number that is not '
        "comparable with the literature; the reason is under its table.</p>"
    )
