"""Runs: every run in the workspace, refreshed from the store, with actions.

Reads the store in a worker thread every `app.poll_seconds`, so runs started
from the CLI or another TUI show up, and a run whose process died shows as
interrupted (the store's own check).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from engine.control import LIVE_STATUSES
from engine.display import STATUS_COLOURS, duration_text, run_duration
from engine.errors import InputError
from xlt_tui.provenance_text import provenance_lines
from xlt_tui.screens.confirm import ConfirmScreen

if TYPE_CHECKING:
    from textual import getters

    from xlt_tui.app import XltApp

COLUMNS = ("run", "name", "status", "stages", "started", "duration")


def stages_text(r: dict[str, Any]) -> str:
    """ "3/8", and for a live run with stages side by side "3/8 · 2 running"
    (the engine's `stages_running`, written while more than one runs)."""
    done, total = r.get("stages_done", 0), r.get("stages_total")
    text = f"{done}/{total}" if total else "-"
    running = r.get("stages_running")
    if r["status"] in LIVE_STATUSES and isinstance(running, int) and running > 1:
        text += f" · {running} running"
    return text


class RunsScreen(Screen):
    if TYPE_CHECKING:
        # `self.app` is an XltApp (textual's idiom), for the type checker only.
        app = getters.app(XltApp)

    BINDINGS = [
        Binding("enter,m", "monitor", "Monitor"),
        Binding("c", "cancel_run", "Cancel"),
        Binding("r", "relaunch", "Relaunch"),
        Binding("v", "results", "Results"),
        Binding("delete,x", "delete_run", "Delete"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.records: list[dict[str, Any]] = []
        self._shown_rows: list[list] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="runs-empty")
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="runs-detail")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for col in COLUMNS:
            table.add_column(col, key=col)
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
        self.app.call_from_thread(self.show_runs, records)

    def show_store_problem(self, message: str) -> None:
        empty = self.query_one("#runs-empty", Static)
        empty.update(Text(f"The runs store cannot be read: {message}"))
        empty.display = True

    def show_runs(self, records: list[dict[str, Any]]) -> None:
        # The cursor follows its run, not its row: read the id before the new
        # records (a run added on top shifts every row down).
        selected = self.selected_id()
        self.records = list(reversed(records))  # newest first
        table = self.query_one(DataTable)
        now = time.time()
        rows = [self._cells(r, now) for r in self.records]
        if rows != self._shown_rows:  # only a change redraws the table
            self._shown_rows = rows
            table.clear()
            for r, cells in zip(self.records, rows, strict=True):
                table.add_row(*cells, key=r["id"])
        empty = self.query_one("#runs-empty", Static)
        empty.update(
            ""
            if self.records
            else "No runs in this workspace yet. Press 2 to launch an experiment."
        )
        empty.display = not self.records
        if selected is not None:
            ids = [r["id"] for r in self.records]
            if selected in ids:
                table.move_cursor(row=ids.index(selected))
        self._show_detail()

    def _cells(self, r: dict[str, Any], now: float) -> list:
        started = r.get("started_at")
        duration = run_duration(r, now)
        status = r["status"]
        return [
            r["id"],
            r.get("name", ""),
            Text(status, style=STATUS_COLOURS.get(status, "white")),
            stages_text(r),
            datetime.fromtimestamp(started).strftime("%m-%d %H:%M") if started else "",
            duration_text(duration) if duration is not None else "",
        ]

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
        if rid is None:
            return

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
