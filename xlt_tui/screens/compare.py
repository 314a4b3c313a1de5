"""Compare two runs or two intermediate choices: per (target, language), the
paired difference B - A with its interval and p-value, on the examples both
evaluated (engine.significance.compare_choices; the TUI face of
`xlt-engine compare A B`).

A side is a run (every intermediate choice both runs have is compared with
itself) or RUN:CHOICE (that choice; the other side, when a run, contributes
the same choice). The bootstrap runs in a worker thread; the table appears
when it is done, with the engine's legend (settings, correction) under it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Static
from textual.widgets import Select as SelectWidget

from engine.config import BASELINE
from engine.report import default_split, metric_scale, of_split
from engine.significance import (
    NO_PREDICTIONS,
    SIGNIFICANT,
    ComparePair,
    Comparison,
    SignificanceSettings,
)
from engine.significance import compare_pairs as compare_pairs_of
from engine.workspace import Workspace
from xlt_tui.score_text import score_text

Record = dict[str, Any]
Pair = ComparePair
COLUMNS = ("target", "language", "choice (A -> B)", "A", "B", "B - A [interval]",
           "p (adj.)", "paired (A, B)")  # fmt: skip


def side_options(records: Sequence[Record]) -> list[tuple[str, str]]:
    """(label, value) of every run and every RUN:CHOICE, in first-seen order."""
    out: list[tuple[str, str]] = []
    runs = list(dict.fromkeys(r["run_id"] for r in records))
    for run in runs:
        out.append((f"{run} (every choice)", run))
        choices = dict.fromkeys(
            r["intermediate"] for r in records if r["run_id"] == run
        )
        out += [(f"{run}:{c}", f"{run}:{c}") for c in choices]
    return out


def parse_side(value: str, records: Sequence[Record]) -> tuple[str, str | None]:
    """(run, choice or None) of a side's value."""
    runs = {r["run_id"] for r in records}
    if value in runs:
        return value, None
    run, _, choice = value.rpartition(":")
    return run, choice


def compare_pairs(
    records: Sequence[Record], a: str, b: str, split: str | None = None
) -> tuple[list[Pair], str]:
    """The cells both sides have on one split, as engine.significance.
    compare_choices takes them, and that split (`split` when the records have
    it, else validation when they have it, else test; as `xlt-engine
    compare`)."""
    run_a, choice_a = parse_side(a, records)
    run_b, choice_b = parse_side(b, records)
    choice_a = choice_a or choice_b
    choice_b = choice_b or choice_a

    def side(run: str, choice: str | None) -> list[Record]:
        return [
            r
            for r in records
            if r["run_id"] == run and (choice is None or r["intermediate"] == choice)
        ]

    recs_a, recs_b = side(run_a, choice_a), side(run_b, choice_b)
    both = recs_a + recs_b
    splits = {str(r.get("split") or "test") for r in both}
    shown = split if split in splits else default_split(both) or "test"
    recs_a, recs_b = of_split(recs_a, shown), of_split(recs_b, shown)
    pairs = compare_pairs_of(choice_a, choice_b, recs_a, recs_b)
    return pairs, shown


def comparison_table_rows(
    comparison: Comparison, metrics: dict[str, str]
) -> list[tuple[str, ...]]:
    """The rows of the table on screen, in units of each target's metric."""
    from engine.significance_report import comparison_rows

    out: list[tuple[str, ...]] = []
    for row in comparison_rows(comparison):
        k = metric_scale(metrics.get(row["target"], ""))
        head = (row["target"], row["language"], row["choice"])
        if row["delta"] is None:
            out.append((*head, "", "", NO_PREDICTIONS, "", ""))
            continue
        mark = SIGNIFICANT if row["significant"] else ""
        out.append(
            (
                *head,
                score_text(row["a_value"], metrics.get(row["target"], "")),
                score_text(row["b_value"], metrics.get(row["target"], "")),
                f"{row['delta'] * k:+.1f} [{row['ci_low'] * k:+.1f}, "
                f"{row['ci_high'] * k:+.1f}]{mark}",
                f"{row['p']:.3f} ({row['p_adjusted']:.3f})",
                f"{row['n_paired']} ({row['n_a']}, {row['n_b']})",
            )
        )
    return out


class CompareScreen(ModalScreen[None]):
    """Pick A and B (each change compares anew); esc closes."""

    DEFAULT_CSS = """
    CompareScreen {
        align: center middle;
    }
    CompareScreen > Vertical {
        width: 95%;
        height: 90%;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    CompareScreen Horizontal {
        height: auto;
    }
    CompareScreen Horizontal Label {
        padding: 0 1 0 0;
    }
    CompareScreen Select {
        width: 1fr;
        margin: 0 2 0 0;
    }
    CompareScreen DataTable {
        height: 1fr;
    }
    CompareScreen #compare-legend {
        height: auto;
        color: $text-muted;
    }
    """

    BINDINGS = [Binding("escape", "dismiss(None)", "Close")]

    class Done(Message):
        def __init__(self, comparison: Comparison | None, error: str | None):
            super().__init__()
            self.comparison = comparison
            self.error = error

    def __init__(
        self,
        records: Sequence[Record],
        workspace: Workspace,
        settings: SignificanceSettings,
        run_id: str | None = None,
        split: str | None = None,
    ):
        super().__init__()
        self.records = list(records)
        self.workspace = workspace
        self.settings = settings
        self.split = split
        self.options = side_options(self.records)
        run = run_id if any(r["run_id"] == run_id for r in self.records) else None
        run = run or self.records[-1]["run_id"]
        choices = list(
            dict.fromkeys(r["intermediate"] for r in self.records if r["run_id"] == run)
        )
        other = next((c for c in choices if c != BASELINE), choices[0])
        self.default_a = f"{run}:{BASELINE}" if BASELINE in choices else run
        self.default_b = f"{run}:{other}"
        self.metrics = {str(r["target"]): str(r["metric"]) for r in self.records}
        self.comparison: Comparison | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Compare: B - A per target and language (paired bootstrap)")
            with Horizontal():
                yield Label("A")
                yield SelectWidget[str](
                    self.options, value=self.default_a, id="compare-a", compact=True
                )
                yield Label("B")
                yield SelectWidget[str](
                    self.options, value=self.default_b, id="compare-b", compact=True
                )
            yield Static("", id="compare-status")
            yield DataTable(id="compare-table", cursor_type="row", zebra_stripes=True)
            yield Static("", id="compare-legend")
            yield Label("pick A and B: the table follows · esc: close")

    def on_mount(self) -> None:
        table = self.query_one("#compare-table", DataTable)
        for name in COLUMNS:
            table.add_column(name, key=name)
        self.action_compare()

    @on(SelectWidget.Changed)
    def _side_changed(self, event: SelectWidget.Changed) -> None:
        self.action_compare()

    def action_compare(self) -> None:
        a = self.query_one("#compare-a", SelectWidget).value
        b = self.query_one("#compare-b", SelectWidget).value
        status = self.query_one("#compare-status", Static)
        if not isinstance(a, str) or not isinstance(b, str):
            status.update("pick A and B")
            return
        if a == b:
            status.update("A and B are the same: pick two runs or choices")
            return
        pairs, split = compare_pairs(self.records, a, b, self.split)
        if not pairs:
            status.update(
                f"{a} and {b} have no (target, language) in common on the {split} split"
            )
            self.query_one("#compare-table", DataTable).clear()
            self.query_one("#compare-legend", Static).update("")
            return
        status.update(f"A = {a} · B = {b} · {split} split · computing intervals…")
        self._compare_worker(pairs, split, a, b)

    @work(thread=True, group="compare", exclusive=True, exit_on_error=False)
    def _compare_worker(self, pairs: list[Pair], split: str, a: str, b: str) -> None:
        from engine.significance import compare_choices

        try:
            comparison = compare_choices(
                pairs, self.workspace, split, self.settings, a, b
            )
        except Exception as exc:  # unreadable predictions: say so
            self.post_message(self.Done(None, str(exc)))
            return
        self.post_message(self.Done(comparison, None))

    def on_compare_screen_done(self, message: Done) -> None:
        status = self.query_one("#compare-status", Static)
        if message.comparison is None:
            status.update(f"no comparison: {message.error}")
            return
        comparison = self.comparison = message.comparison
        a, b = comparison.a, comparison.b
        current = (
            self.query_one("#compare-a", SelectWidget).value,
            self.query_one("#compare-b", SelectWidget).value,
        )
        if current != (a, b):
            return  # an older pick's answer: the newer one is on its way
        status.update(f"A = {a} · B = {b} · {comparison.split} split")
        table = self.query_one("#compare-table", DataTable)
        table.clear()
        for row in comparison_table_rows(comparison, self.metrics):
            table.add_row(*row)
        notes = [
            "B - A on the examples both evaluated",
            comparison.settings.legend(len(comparison.results)),
            *(
                f"{NO_PREDICTIONS} {t} {lg} {c}: {why}"
                for (t, lg, c), why in comparison.missing.items()
            ),
        ]
        self.query_one("#compare-legend", Static).update(Text("\n".join(notes)))
