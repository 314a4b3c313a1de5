"""Significance in the results views: cell text with the change's interval and
marks, the legend under a table, the extra CSV/JSON fields, and the
`compare A B` table. The numbers come from engine.significance.

Marks are plain characters (engine.significance): SIGNIFICANT after the
change, COLLAPSED after the score, NO_PREDICTIONS where a change has no
interval; the legend says what each means and which correction is applied.

Light module: no torch.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from typing import Any

from engine.report import Pivot, format_cell, metric_scale
from engine.significance import (
    AVG,
    COLLAPSED,
    NO_PREDICTIONS,
    SIGNIFICANT,
    Comparison,
    TargetSignificance,
)


def score_text(table: Pivot, sig: TargetSignificance, row: str, col: str) -> str:
    """The score (mean±std over seeds) with the collapsed mark."""
    text = format_cell(table.cell(row, col), table.metric, with_delta=False)
    check = sig.collapse.get((row, col))
    return text + (COLLAPSED if check is not None and check.collapsed else "")


def change_text(table: Pivot, sig: TargetSignificance, row: str, col: str) -> str:
    """'+1.3 [-0.2, +2.9]*': the change, its interval, the significance mark;
    the plain change with NO_PREDICTIONS where there is no interval."""
    cell = table.cell(row, col)
    if cell is None or cell.delta is None:
        return ""
    k = metric_scale(table.metric)
    result = sig.results.get((row, col))
    if result is None:
        return f"{cell.delta * k:+.1f}{NO_PREDICTIONS}"
    mark = SIGNIFICANT if result.significant else ""
    # The bootstrap's delta is recomputed from the predictions; the interval
    # is around it (it equals the table's change unless the store rounded).
    low, high = result.low * k, result.high * k
    return f"{result.delta * k:+.1f} [{low:+.1f}, {high:+.1f}]{mark}"


def ci_cell_text(table: Pivot, sig: TargetSignificance) -> Callable[[str, str], str]:
    """report.render_markdown / render_latex's cell_text with intervals."""

    def text(row: str, col: str) -> str:
        change = change_text(table, sig, row, col)
        score = score_text(table, sig, row, col)
        return f"{score} ({change})" if change else score

    return text


def flag_cell_text(table: Pivot, sig: TargetSignificance) -> Callable[[str, str], str]:
    """Cell text without intervals: the default, with the collapsed mark."""

    def text(row: str, col: str) -> str:
        cell = table.cell(row, col)
        check = sig.collapse.get((row, col))
        base = format_cell(cell, table.metric, with_delta=False)
        if check is not None and check.collapsed:
            base += COLLAPSED
        if cell is not None and cell.delta is not None:
            base += f" ({cell.delta * metric_scale(table.metric):+.1f})"
        return base

    return text


def legend_lines(sig: TargetSignificance, with_intervals: bool) -> list[str]:
    lines = sig.legend()
    if not with_intervals:
        lines = [
            line for line in lines if not line.startswith(("[low", NO_PREDICTIONS))
        ]
    return lines


def markdown_legend(lines: Sequence[str]) -> str:
    return "".join(f"\n{line}  " for line in lines) + ("\n" if lines else "")


def latex_legend(lines: Sequence[str]) -> str:
    def esc(text: str) -> str:
        for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"),
                     ("_", r"\_"), ("#", r"\#"), ("–", "--")):  # fmt: skip
            text = text.replace(a, b)
        return text

    return "".join(esc(line) + "\\\\\n" for line in lines)


def render_rich_ci(
    table: Pivot, sig: TargetSignificance, split_note: str, with_intervals: bool
):
    """The terminal table (report.render_rich): score and collapsed mark on a
    cell's first line, the change (with its interval and mark) on the second."""
    from rich.markup import escape

    from engine.report import render_rich

    caption = "\n".join(
        [
            "second line: change against the baseline"
            + (" [interval]" if with_intervals else ""),
            *legend_lines(sig, with_intervals),
        ]
    )
    return render_rich(
        table,
        caption=escape(caption),  # "[low, high]" is no markup
        split_note=split_note,
        score_text=lambda row, col: score_text(table, sig, row, col),
        change_text=(lambda row, col: change_text(table, sig, row, col))
        if with_intervals
        else None,
    )


def with_fields(
    records: Sequence[dict[str, Any]], sigs: dict[tuple[str, str], TargetSignificance]
) -> list[dict[str, Any]]:
    """Result records with the significance fields of their cell (`sigs`:
    (target, split) -> its significance), then one row per per-target average
    ("language": "avg", "aggregate": true)."""
    out = []
    for r in records:
        sig = sigs.get((r["target"], str(r.get("split") or "test")))
        out.append({**r, **sig.fields(r["intermediate"], r["language"])} if sig else r)
    for sig in sigs.values():
        for (row, col), result in sig.results.items():
            if col != AVG:
                continue
            out.append(
                {
                    "target": sig.target,
                    "split": sig.split,
                    "intermediate": row,
                    "language": AVG,
                    "metric": sig.metric,
                    "value": result.system_value,
                    "aggregate": True,
                    **sig.fields(row, AVG),
                }
            )
    return out


# --- compare A B ---------------------------------------------------------------


def comparison_rows(comparison: Comparison) -> list[dict[str, Any]]:
    rows = []
    keys = list(dict.fromkeys([*comparison.results, *comparison.missing]))
    for key in keys:
        target, language, choice = key
        result = comparison.results.get(key)
        size = comparison.sizes.get(key)
        rows.append(
            {
                "target": target,
                "language": language,
                "choice": choice,
                "split": comparison.split,
                "a_value": result.baseline_value if result else None,
                "b_value": result.system_value if result else None,
                "delta": result.delta if result else None,
                "ci_low": result.low if result else None,
                "ci_high": result.high if result else None,
                "p": result.p if result else None,
                "p_adjusted": result.p_adjusted if result else None,
                "significant": result.significant if result else None,
                "n_paired": result.n_examples if result else None,
                "n_a": size[0] if size else None,
                "n_b": size[1] if size else None,
                "n_seeds": result.n_seeds if result else None,
                **comparison.settings.as_dict(),
                "no_ci": comparison.missing.get(key),
            }
        )
    return rows


def comparison_csv(rows: Sequence[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(
        buf, fieldnames=list(rows[0]) if rows else [], lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def comparison_json(comparison: Comparison, rows: Sequence[dict[str, Any]]) -> str:
    return json.dumps(
        {
            "a": comparison.a,
            "b": comparison.b,
            "split": comparison.split,
            "settings": comparison.settings.as_dict(),
            "cells": list(rows),
        },
        indent=1,
    )


def render_comparison(comparison: Comparison, metric_of: Callable[[str], str]):
    """The terminal table of `compare A B`."""
    from rich.markup import escape
    from rich.table import Table

    legend = comparison.settings.legend(len(comparison.results))
    notes = [
        f"B - A on the examples both evaluated ({comparison.split} split)",
        legend,
        *(
            f"{NO_PREDICTIONS} {t} {lg} {c}: {why}"
            for (t, lg, c), why in comparison.missing.items()
        ),
    ]
    out = Table(
        title=escape(f"A = {comparison.a}  ·  B = {comparison.b}"),
        caption=escape("\n".join(notes)),
    )
    for name in ("target", "language", "choice (A -> B)", "A", "B", "B - A [interval]",
                 "p (adj.)", "paired (A, B)"):  # fmt: skip
        out.add_column(name, justify="left" if name[0] in "tlc" else "right")
    for row in comparison_rows(comparison):
        k = metric_scale(metric_of(row["target"]))
        if row["delta"] is None:
            out.add_row(row["target"], row["language"], row["choice"], "", "",
                        NO_PREDICTIONS, "", "")  # fmt: skip
            continue
        mark = SIGNIFICANT if row["significant"] else ""
        out.add_row(
            row["target"],
            row["language"],
            row["choice"],
            f"{row['a_value'] * k:.1f}",
            f"{row['b_value'] * k:.1f}",
            f"{row['delta'] * k:+.1f} [{row['ci_low'] * k:+.1f}, "
            f"{row['ci_high'] * k:+.1f}]{mark}",
            f"{row['p']:.3f} ({row['p_adjusted']:.3f})",
            f"{row['n_paired']} ({row['n_a']}, {row['n_b']})",
        )
    return out
