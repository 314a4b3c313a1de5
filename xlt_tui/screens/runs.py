"""Runs: every run in the workspace, refreshed from the store, with actions.

Reads the store in a worker thread every `app.poll_seconds`, so runs started
from the CLI or another TUI show up, and a run whose process died shows as
interrupted (the store's own check).
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from engine.control import LIVE_STATUSES
from engine.display import STATUS_COLOURS, duration_text, run_duration
from engine.errors import InputError
from xlt_tui.provenance_text import provenance_lines
from xlt_tui.run_list import (
    COLUMN_KEYS,
    COLUMNS,
    DEFAULT_SORT,
    RunFilter,
    fit_rows,
    next_sort,
    sort_records,
)
from xlt_tui.run_progress import RunProgress, RunProgressTracker
from xlt_tui.screens.confirm import ConfirmScreen

if TYPE_CHECKING:
    from textual import getters

    from xlt_tui.app import XltApp

# Columns the vertical scrollbar takes once the runs outnumber the rows.
SCROLLBAR_RESERVE = 2


def stages_text(r: dict[str, Any]) -> str:
    """ "3/8", and for a live run with stages side by side "3/8 · 2 running"
    (the engine's `stages_running`, written while more than one runs)."""
    done, total = r.get("stages_done", 0), r.get("stages_total")
    text = f"{done}/{total}" if total else "-"
    running = r.get("stages_running")
    if r["status"] in LIVE_STATUSES and isinstance(running, int) and running > 1:
        text += f" · {running} running"
    return text


def started_text(r: dict[str, Any]) -> str:
    started = r.get("started_at")
    return datetime.fromtimestamp(started).strftime("%m-%d %H:%M") if started else ""


class RunsScreen(Screen):
    if TYPE_CHECKING:
        # `self.app` is an XltApp (textual's idiom), for the type checker only.
        app = getters.app(XltApp)

    # The filter box is hidden until `/` (hidden by CSS, so it never takes the
    # focus when the screen mounts).
    DEFAULT_CSS = """
    RunsScreen #runs-filter { display: none; }
    """

    BINDINGS = [
        # show=False: listed by Help (?), kept off the footer so Help and Quit
        # fit at 80 columns.
        Binding("enter,m", "monitor", "Monitor"),
        Binding("c", "cancel_run", "Cancel"),
        Binding("r", "relaunch", "Relaunch", show=False),
        Binding("v", "results", "Results", show=False),
        Binding("delete,x", "delete_run", "Delete", show=False),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("s", "sort", "Sort"),
        Binding("S", "reverse_sort", "Reverse sort", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.all_records: list[dict[str, Any]] = []
        self.records: list[dict[str, Any]] = []  # as shown: filtered, sorted
        self.progress: dict[str, RunProgress] = {}
        self.sort_column, self.sort_descending = DEFAULT_SORT
        self._tracker: RunProgressTracker | None = None  # made on mount
        self._tracker_lock = threading.Lock()  # a cancelled worker may still run
        self._shown: tuple | None = None  # (labels, ids, plain rows) on screen
        # The run the cursor follows through re-sorts, filters and new runs;
        # `_placed_id` is where we put the cursor while that run is hidden by
        # the filter (so that placement is not taken for the user's choice).
        self._follow_id: str | None = None
        self._placed_id: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(
            placeholder="filter: words of id or name · status:running · "
            "status:live · name:demo   (Esc clears)",
            id="runs-filter",
        )
        yield Static("", id="runs-empty")
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="runs-detail")
        yield Footer(compact=True)  # Help and Quit fit at 80 columns

    def on_mount(self) -> None:
        self._tracker = RunProgressTracker(self.app.client.events_path)
        self.query_one(DataTable).focus()
        self.refresh_runs()
        self.set_interval(self.app.poll_seconds, self.refresh_runs)

    @work(thread=True, exclusive=True, exit_on_error=False, group="runs")
    def refresh_runs(self) -> None:
        try:
            records = self.app.client.runs()
        except InputError as exc:
            # A damaged store: say so where the runs would be, never a blank.
            self.app.call_from_thread(self.show_store_problem, str(exc))
            return
        progress: dict[str, RunProgress] = {}
        if self._tracker is not None:
            with self._tracker_lock:
                progress = self._tracker.progress(records, time.time())
        self.app.call_from_thread(self.show_runs, records, progress)

    def show_store_problem(self, message: str) -> None:
        empty = self.query_one("#runs-empty", Static)
        empty.update(Text(f"The runs store cannot be read: {message}"))
        empty.display = True

    def show_runs(
        self,
        records: list[dict[str, Any]],
        progress: dict[str, RunProgress] | None = None,
    ) -> None:
        self.all_records = list(records)
        self.progress = progress or {}
        self._render_table()

    def on_resize(self) -> None:
        self._render_table()

    def _render_table(self) -> None:
        """Filter, sort and fit the runs; redraw the table only on a change,
        keeping the cursor on its run (read by id: a run added on top, a
        re-sort or a filter moves every row)."""
        selected = self.selected_id()
        if selected is not None and (
            selected != self._placed_id or self._follow_id is None
        ):
            self._follow_id = selected
        now = time.time()
        run_filter = RunFilter.parse(self.query_one("#runs-filter", Input).value)
        kept = [r for r in self.all_records if run_filter.keeps(r)]
        self.records = sort_records(
            kept, self.progress, self.sort_column, self.sort_descending, now
        )
        labels, rows = fit_rows(
            self._labels(full=True),
            self._labels(full=False),
            [self._plain_cells(r, now) for r in self.records],
            max(0, self.app.size.width - SCROLLBAR_RESERVE),
        )
        table = self.query_one(DataTable)
        ids = [r["id"] for r in self.records]
        shown = (labels, ids, rows)
        if shown != self._shown:  # only a change redraws the table
            old_labels, old_ids, old_rows = self._shown or ((), (), ())
            if (labels, ids) == (old_labels, old_ids):
                self._update_cells(table, rows, old_rows)  # e.g. an ETA ticking
            else:
                table.clear(columns=True)
                for column, label in zip(COLUMNS, labels, strict=True):
                    table.add_column(label, key=column.key)
                for r, cells in zip(self.records, rows, strict=True):
                    table.add_row(*self._styled(r, cells), key=r["id"])
            self._shown = shown
        self._show_empty(run_filter)
        if self._follow_id in ids:
            table.move_cursor(row=ids.index(self._follow_id))
            self._placed_id = None
        else:
            row = min(max(table.cursor_row, 0), len(ids) - 1)
            self._placed_id = ids[row] if ids else None
        self._show_detail()

    def _update_cells(
        self, table: DataTable, rows: list[list[str]], old_rows: list[list[str]]
    ) -> None:
        """Same runs in the same order: only the cells that changed."""
        for r, cells, old in zip(self.records, rows, old_rows, strict=True):
            if cells == old:
                continue
            styled = self._styled(r, cells)
            for key, value, was, new in zip(
                COLUMN_KEYS, styled, old, cells, strict=True
            ):
                if new != was:
                    table.update_cell(r["id"], key, value)

    def _show_empty(self, run_filter: RunFilter) -> None:
        empty = self.query_one("#runs-empty", Static)
        if not self.all_records:
            message = "No runs in this workspace yet. Press 2 to launch an experiment."
        elif run_filter.problem:
            message = f"Filter: {run_filter.problem}"
        elif not self.records:
            message = "No run matches the filter (Esc clears it)."
        else:
            message = ""
        empty.update(Text(message))
        empty.display = bool(message)

    def _labels(self, full: bool) -> list[str]:
        arrow = " ▼" if self.sort_descending else " ▲"
        return [
            (c.label if full else c.short_label)
            + (arrow if c.key == self.sort_column else "")
            for c in COLUMNS
        ]

    def _plain_cells(self, r: dict[str, Any], now: float) -> list[str]:
        duration = run_duration(r, now)
        progress = self.progress.get(r["id"]) or RunProgress(None, None)
        return [
            r["id"],
            r.get("name", ""),
            r["status"],
            stages_text(r),
            progress.percent_text,
            progress.eta_text,
            started_text(r),
            duration_text(duration) if duration is not None else "",
        ]

    def _styled(self, r: dict[str, Any], cells: list[str]) -> list:
        colour = STATUS_COLOURS.get(r["status"], "white")
        out: list = list(cells)
        out[COLUMN_KEYS.index("status")] = Text(cells[2], style=colour)
        progress = self.progress.get(r["id"])
        if progress is not None and progress.stopped:
            # Where a failed or cancelled run stopped, in its status colour.
            index = COLUMN_KEYS.index("progress")
            out[index] = Text(cells[index], style=colour)
        return out

    # -- filter and sort ------------------------------------------------------
    def action_filter(self) -> None:
        box = self.query_one("#runs-filter", Input)
        box.display = True
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#runs-filter", Input)
        if not box.display:
            return
        box.value = ""
        box.display = False
        self.query_one(DataTable).focus()
        self._render_table()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "runs-filter":
            self._render_table()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "runs-filter":
            if not event.value.strip():
                self.action_clear_filter()
            else:
                self.query_one(DataTable).focus()

    def action_sort(self) -> None:
        self._sort_by(None)

    def action_reverse_sort(self) -> None:
        self._sort_by(self.sort_column)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        self._sort_by(str(event.column_key.value))

    def _sort_by(self, clicked: str | None) -> None:
        self.sort_column, self.sort_descending = next_sort(
            self.sort_column, self.sort_descending, clicked
        )
        self._render_table()

    def selected_id(self) -> str | None:
        table = self.query_one(DataTable)
        if not self.records or table.cursor_row is None:
            return None
        row = table.cursor_row
        return self.records[row]["id"] if 0 <= row < len(self.records) else None

    def selected(self) -> dict[str, Any] | None:
        rid = self.selected_id()
        return next((r for r in self.records if r["id"] == rid), None)

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def on_data_table_row_selected(self, _: DataTable.RowSelected) -> None:
        self.action_monitor()

    def _show_detail(self) -> None:
        r = self.selected()
        detail = self.query_one("#runs-detail", Static)
        if r is None:
            detail.update("")
            return
        cfg = r.get("config") or {}
        lines = [
            f"[b]{r['id']}[/b]  model {cfg.get('model', '?')}  "
            f"device {r.get('device') or '?'}  host {r.get('host') or '?'}",
            f"intermediate: {', '.join(cfg.get('intermediate', [])) or '-'}   "
            f"targets: {', '.join(cfg.get('targets', [])) or '-'}",
        ]
        text = Text.from_markup("\n".join(lines))
        if r.get("error"):
            # The engine's own line may carry the CLI's "error:" label already.
            message = str(r["error"]).removeprefix("error:").strip()
            text.append("\nerror: ", style="red")
            text.append(message)  # plain text: brackets in paths stay
        for line in provenance_lines(r.get("provenance")):  # plain text: no markup
            text.append("\n" + line, style="dim")
        detail.update(text)

    # -- actions ------------------------------------------------------------
    def action_monitor(self) -> None:
        rid = self.selected_id()
        if rid is not None:
            self.app.open_monitor(rid)

    def action_results(self) -> None:
        rid = self.selected_id()
        if rid is not None:
            self.app.open_results(rid)

    def action_cancel_run(self) -> None:
        rid = self.selected_id()
        if rid is not None:
            self.cancel_run(rid)

    def cancel_run(self, rid: str) -> None:
        """Ask first, then cancel `rid` (the selected row's run, or one picked
        in the command palette)."""

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            try:
                self.notify(self.app.client.cancel(rid))
            except InputError as exc:
                self.notify(str(exc), severity="error")
            self.refresh_runs()

        self.app.push_screen(
            ConfirmScreen(
                f"Cancel run [b]{rid}[/b]?\n\nIt stops at its next safe point; "
                "finished stages and scores are kept.",
                yes_label="Yes, cancel it",
            ),
            answered,
        )

    def action_relaunch(self) -> None:
        rid = self.selected_id()
        if rid is None:
            return

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            try:
                launched = self.app.client.relaunch(rid)
            except InputError as exc:
                self.notify(str(exc), severity="error", timeout=10)
                return
            self.notify(f"launched {launched.run_id} (pid {launched.pid})")
            self.app.open_monitor(launched.run_id)

        self.app.push_screen(
            ConfirmScreen(
                f"Relaunch run [b]{rid}[/b]?\n\nA new run starts with the same "
                "config; stages already computed are reused.",
                yes_label="Yes, relaunch",
            ),
            answered,
        )

    def action_delete_run(self) -> None:
        r = self.selected()
        if r is None:
            return
        if r["status"] in LIVE_STATUSES:
            self.notify(
                f"run {r['id']} is {r['status']}; cancel it first (c)",
                severity="warning",
            )
            return

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            try:
                self.app.client.delete(r["id"])
            except InputError as exc:
                self.notify(str(exc), severity="error")
                return
            self.notify(f"deleted run {r['id']}")
            self.refresh_runs()

        self.app.push_screen(
            ConfirmScreen(
                f"Delete run [b]{r['id']}[/b]?\n\nIts record, results and event "
                "log are removed. Checkpoints stay (other runs may share them)."
            ),
            answered,
        )
