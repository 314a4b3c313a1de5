"""Watching one run live: progress, loss and learning rate, throughput, final
zero-shot scores as they arrive, the GPU, and the engine's log.

One stage at a time, a stage line and its bar; once stages run side by side
(one worker per device), one row per running stage instead (`StageRows`),
the charts following the latest of them, and a GPU line per device in use.

Three threads feed the screen, none of them touches a widget:

- `RunTailer` (xlt_tui/tailer.py) reads events.jsonl from its start (the whole
  history first, then live) plus engine.log, and posts one `TailBatch` per
  read; the screen folds the events into a `MonitorState`;
- a worker polls the store for the run's record every `app.poll_seconds`
  (a run whose process is gone reads as interrupted there);
- a worker samples the GPU through NVML once a second.

Widgets are redrawn from the state on a timer (a few times a second), not
per message, so a run that writes thousands of events a second costs the UI
the same as a slow one.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, ProgressBar, Static
from textual.worker import get_current_worker

from engine.control import ENDED_STATUSES, LIVE_STATUSES
from engine.errors import InputError
from xlt_tui import gpu
from xlt_tui.monitor_state import (
    SCORES,
    SERIES,
    STAGE,
    MonitorState,
    compact_log_line,
    describe,
    duration,
    rate,
)
from xlt_tui.score_text import is_percentage, score_text
from xlt_tui.tailer import RunTailer, TailBatch
from xlt_tui.widgets.charts import MetricChart, format_loss, format_lr
from xlt_tui.widgets.following_log import FollowingLog
from xlt_tui.widgets.log_search_bar import LogSearchBar
from xlt_tui.widgets.stage_rows import StageRow, StageRows

if TYPE_CHECKING:
    from textual import getters

    from xlt_tui.app import XltApp

REFRESH_S = 0.25
GPU_INTERVAL_S = 1.0
LOG_MAX_LINES = 2000
STAGE_COLUMN = "stage"
STAGE_ROWS = {"-short": 4, "-tall": 10}  # running-stage rows shown, per height


class RunRecord(Message, bubble=False):
    """The run's record from the store (None: not there), or why it could not
    be read."""

    def __init__(self, record: dict[str, Any] | None, error: str | None = None):
        super().__init__()
        self.record = record
        self.error = error

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RunRecord)  # only the latest one matters


class GpuReading(Message, bubble=False):
    def __init__(self, stats: list[gpu.GpuStats] | None, reason: str | None):
        super().__init__()
        self.stats = stats
        self.reason = reason

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, GpuReading)


class MonitorScreen(Screen):
    """Live view of one run. Pushed by the app with `MonitorScreen(run_id)`."""

    if TYPE_CHECKING:
        # `self.app` is an XltApp (textual's idiom), for the type checker only:
        # the monitor's tests show it in a stand-in with the same members.
        app = getters.app(XltApp)

    BINDINGS = [
        # show=False: listed by Help (?), kept off the footer so Help and Quit
        # fit at 80 columns (the app's 1/2/3 go back to a mode too).
        Binding("escape", "back", "Back", show=False),
        Binding("c", "cancel_run", "Cancel run"),
        Binding("v", "view_results", "Results", show=False),
        # The log's keys; one in the footer, all in Help (`?`).
        Binding("slash", "search_log", "Search log", key_display="/"),
        Binding("n", "next_match", "Log: next match", show=False),
        Binding("N", "previous_match", "Log: previous match", show=False),
        Binding("G,end", "follow_log", "Log: follow the tail", show=False),
        Binding("w", "toggle_wrap", "Log: wrap long lines on/off", show=False),
        Binding("y,ctrl+c", "copy_log_line", "Log: copy the cursor line", show=False),
    ]

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (34, "-tall")]

    DEFAULT_CSS = """
    MonitorScreen {
        layout: vertical;
    }
    MonitorScreen #monitor-body {
        height: 1fr;
        padding: 0 1;
    }
    MonitorScreen .line {
        height: 1;
        width: 1fr;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    MonitorScreen #run-line {
        background: $panel;
        text-style: bold;
        margin: 0 -1;
        padding: 0 1;
    }
    MonitorScreen #error-line {
        height: auto;
        max-height: 3;
        color: $text-error;
        background: $error-muted;
        display: none;
    }
    MonitorScreen #warning-line {
        color: $text-warning;
        background: $warning-muted;
        display: none;
    }
    MonitorScreen #error-line.-shown, MonitorScreen #warning-line.-shown {
        display: block;
    }
    MonitorScreen .progress-row {
        height: 1;
    }
    MonitorScreen .progress-row > .progress-label {
        width: 9;
    }
    MonitorScreen .progress-row > ProgressBar {
        width: 1fr;
    }
    MonitorScreen .progress-row > ProgressBar > Bar {
        width: 1fr;
    }
    MonitorScreen .progress-row > .progress-eta {
        width: 16;
        text-align: right;
    }
    MonitorScreen #charts {
        height: auto;
        margin-top: 1;
    }
    MonitorScreen #charts > MetricChart {
        margin-right: 2;
    }
    MonitorScreen #scores {
        height: auto;
        max-height: 6;
        display: none;
    }
    MonitorScreen #scores.-shown {
        display: block;
    }
    MonitorScreen #gpu-line {
        color: $text-muted;
    }
    MonitorScreen #stage-rows {
        display: none;
    }
    MonitorScreen.-parallel #stage-rows {
        display: block;
    }
    MonitorScreen.-parallel #stage-line, MonitorScreen.-parallel #stage-progress {
        display: none;
    }
    MonitorScreen.-parallel #gpu-line {
        height: auto;
        max-height: 4;
    }
    MonitorScreen.-parallel.-tall #gpu-line {
        max-height: 8;
    }
    MonitorScreen #log {
        height: 1fr;
        min-height: 3;
        overflow-x: hidden;
        border-top: solid $panel-lighten-2;
    }
    MonitorScreen #log.-nowrap {
        overflow-x: auto;  /* unwrapped lines scroll sideways */
    }
    MonitorScreen.-tall #charts MetricChart > SeriesBars {
        height: 4;
    }
    MonitorScreen.-tall #scores {
        max-height: 12;
        margin-top: 1;
    }
    """

    def __init__(self, run_id: str):
        super().__init__()
        self.run_id = run_id
        self.state = MonitorState()
        self.record: dict[str, Any] | None = None
        self.record_error: str | None = None
        self.tailer: RunTailer | None = None
        self.history_loaded = False
        self.events_file_exists = False
        self.bad_lines = 0
        self.bad_line_numbers: list[int] = []
        self.unfinished_tail_bytes = 0
        self.gpu_text = "GPU: …"
        self._gpu_reading: GpuReading | None = None
        self._gpu_probe = gpu.GpuProbe()
        self._stopping = threading.Event()
        self._wake_poll = threading.Event()
        self._texts: dict[str, Any] = {}  # what each line shows now
        self._score_columns: list[str] = []
        self._score_rows: dict[str, dict[str, float]] = {}
        self._dirty = True
        self._polled = False

    # -- layout ---------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Vertical(id="monitor-body"):
            yield Static(self.run_id, id="run-line", classes="line")
            yield Static("", id="error-line")
            yield Static("", id="warning-line", classes="line")
            yield Static(
                "waiting for the run's events…", id="stage-line", classes="line"
            )
            yield StageRows(id="stage-rows")
            with Horizontal(id="stage-progress", classes="progress-row"):
                yield Static("stage", classes="progress-label")
                yield ProgressBar(total=1.0, show_eta=False, id="stage-bar")
                yield Static("", id="stage-eta", classes="progress-eta")
            with Horizontal(classes="progress-row"):
                yield Static("overall", classes="progress-label")
                yield ProgressBar(total=1.0, show_eta=False, id="overall-bar")
                yield Static("", id="overall-eta", classes="progress-eta")
            yield Static("", id="stats-line", classes="line")
            with Horizontal(id="charts"):
                yield MetricChart("loss", format_loss, id="loss-chart")
                yield MetricChart("lr", format_lr, id="lr-chart")
            yield DataTable(id="scores", cursor_type="row", zebra_stripes=True)
            yield Static(self.gpu_text, id="gpu-line", classes="line")
            yield FollowingLog(id="log", max_lines=LOG_MAX_LINES)
            yield LogSearchBar(id="log-search")
        yield Footer(compact=True)  # Help and Quit fit at 80 columns

    def on_mount(self) -> None:
        table = self.query_one("#scores", DataTable)
        table.add_column("target ← intermediate", key=STAGE_COLUMN)
        client = self.app.client
        self.tailer = RunTailer(
            self,
            client.events_path(self.run_id),
            client.engine_log_path(self.run_id),
            client.launch_output_path(self.run_id),
        )
        self.tailer.start()
        self._poll_record(client, float(getattr(self.app, "poll_seconds", 1.0)))
        self._sample_gpu()
        self.set_interval(REFRESH_S, self._refresh_view)

    def on_unmount(self) -> None:
        self._stopping.set()
        self._wake_poll.set()
        if self.tailer is not None:
            self.tailer.stop()
        self._gpu_probe.close()

    # -- feeds ----------------------------------------------------------------
    def on_tail_batch(self, batch: TailBatch) -> None:
        log = self.query_one("#log", FollowingLog)
        if batch.reset:
            self._reset_view()
            log.clear()
        self.state.apply_many(batch.events)
        lines = [line for e in batch.events if (line := describe(e)) is not None]
        lines.extend(compact_log_line(line) for line in batch.log_lines)
        if lines:
            log.write_lines(lines)
        if batch.reset or lines:
            self._show_match_count()
        if batch.bad_lines:
            if not self.bad_lines:
                self.notify(
                    "events.jsonl has unreadable lines; they are skipped",
                    title="Monitor",
                    severity="warning",
                )
            self.bad_lines += batch.bad_lines
            self.bad_line_numbers.extend(batch.bad_line_numbers)
            del self.bad_line_numbers[:-20]
        if batch.unfinished_tail_bytes is not None:
            self.unfinished_tail_bytes = batch.unfinished_tail_bytes
        self.events_file_exists = self.events_file_exists or batch.events_file_exists
        self._dirty = True
        if batch.caught_up:
            self.history_loaded = True
            self._refresh_view()  # the whole history, drawn at once

    def on_run_record(self, message: RunRecord) -> None:
        self.record, self.record_error = message.record, message.error
        self._polled = True
        self._dirty = True

    def on_gpu_reading(self, message: GpuReading) -> None:
        self._gpu_reading = message
        self._show_gpu()

    def _show_gpu(self) -> None:
        message = self._gpu_reading
        if message is None:
            return
        short = self.size.width < 110
        if not message.stats:
            text = message.reason or "no GPU"
        elif self.state.parallel:
            # A line per GPU the running stages use (or the run holds).
            devices = [s.device for s in self.state.running.values() if s.device]
            text = "\n".join(gpu.describe_devices(message.stats, devices, short))
        else:
            text = gpu.describe(message.stats, limit=1 if short else 2, short=short)
        self.gpu_text = text
        self._set_text("gpu-line", Text(text))

    @work(thread=True, exclusive=True, group="monitor-record", exit_on_error=False)
    def _poll_record(self, client, interval: float) -> None:
        worker = get_current_worker()
        while not worker.is_cancelled and not self._stopping.is_set():
            try:
                record, error = client.run(self.run_id), None
            except Exception as exc:  # noqa: BLE001 - a store being rewritten, ...
                record, error = self.record, str(exc)
            self.post_message(RunRecord(record, error))
            ended = (record or {}).get("status") in ENDED_STATUSES
            self._wake_poll.wait(max(0.05, interval * (5 if ended else 1)))
            self._wake_poll.clear()

    @work(thread=True, exclusive=True, group="monitor-gpu", exit_on_error=False)
    def _sample_gpu(self) -> None:
        worker = get_current_worker()
        while not worker.is_cancelled and not self._stopping.is_set():
            stats = self._gpu_probe.sample(pid=self._run_pid())
            self.post_message(GpuReading(stats, self._gpu_probe.reason))
            if stats is None and self._gpu_probe.unavailable:
                return  # no NVML here: asking again would not change that
            self._stopping.wait(GPU_INTERVAL_S)

    def _run_pid(self) -> int | None:
        record = self.record or {}
        if record.get("host") == socket.gethostname():
            pid = record.get("pid")
            return pid if isinstance(pid, int) else None
        return None

    # -- what the screen says -------------------------------------------------
    @property
    def status(self) -> str:
        """The run's status: its own run_end if it wrote one, else the store's."""
        if self.state.end_status:
            return self.state.end_status
        if self.record and self.record.get("status"):
            return self.record["status"]
        if self.record_error:
            return "unknown"
        return "not in the store" if self._polled else "…"

    @property
    def last_error(self) -> str | None:
        """Why the run died, in the best words available."""
        status = self.status
        if self.state.run_end and self.state.run_end.get("error"):
            return str(self.state.run_end["error"])
        if self.state.last_error:
            return self.state.last_error
        if self.record and self.record.get("error"):
            return str(self.record["error"])
        if status == "interrupted":
            return (
                "the engine process is gone without ending the run "
                "(killed, out of memory, or the machine restarted)"
            )
        return None

    def _refresh_view(self) -> None:
        now = time.time()
        changes = self.state.take_changes()
        if not (changes or self._dirty or self.status in LIVE_STATUSES):
            return  # an ended run: nothing ticks
        self._dirty = False
        state, status = self.state, self.status
        live = status in LIVE_STATUSES and state.run_end is None

        # run line
        name = state.name or (self.record or {}).get("name") or ""
        device = state.device or (self.record or {}).get("device") or ""
        elapsed = self._elapsed(now, live)
        run_line = Text.assemble(
            (self.run_id, "bold"),
            f"  {name}" if name and name not in self.run_id else "",
            "  ",
            (status, _STATUS_STYLE.get(status, "")),
            f"  {device}" if device else "",
            f"  {duration(elapsed)}" if elapsed is not None else "",
        )
        self._set_text("run-line", run_line)

        # problems
        error = self.last_error if status in ("failed", "interrupted") else None
        if error is None and state.errors:
            error = state.last_error
        if error is None and self.record_error:
            error = f"cannot read the store: {self.record_error}"
        self._set_text("error-line", Text(f"✖ {status}: {error}") if error else "")
        self._set_text("warning-line", Text(self._warning_text(live)))

        # stage
        stage = state.stage
        if stage is None:
            if not self._polled and not self.events_file_exists:
                waiting = "reading the run…"
            elif not self.events_file_exists:
                waiting = (
                    "the engine is starting (loading the model, checking data)…"
                    if live
                    else "no events were written for this run"
                )
            else:
                waiting = "waiting for the first stage…" if live else "no stage ran"
            stage_text = Text(waiting, style="dim")
        else:
            total = stage.total or state.stages_total
            where = f"stage {stage.index or '?'}/{total or '?'}"
            steps = (
                f"  step {stage.step}/{stage.total_steps}" if stage.total_steps else ""
            )
            epoch = f"  epoch {stage.epoch}" if stage.epoch is not None else ""
            flag = "  (reused)" if stage.reused else ""
            flag = "  (done)" if stage.ended and not flag else flag
            flag = "  (did not finish)" if stage.error else flag
            on = f"  on {stage.device}" if stage.device else ""
            stage_text = Text.assemble(
                (where, "bold"), "  ", stage.label, steps, epoch, on, (flag, "dim")
            )
        self._set_text("stage-line", stage_text)
        if state.parallel:
            self._show_stage_rows(now, live)
            if STAGE in changes:
                self._show_gpu()
        self.set_class(state.parallel, "-parallel")
        self._set_progress("stage-bar", stage.progress if stage else 0.0)
        stage_eta = state.stage_eta(now) if live else None
        self._set_text("stage-eta", _eta_text(stage_eta, stage is not None and live))
        overall = state.overall_progress()
        self._set_progress("overall-bar", overall or 0.0)
        overall_eta = state.overall_eta(now) if live else None
        self._set_text("overall-eta", _eta_text(overall_eta, live))

        # throughput and validation
        self._set_text("stats-line", self._stats_text())
        if SERIES in changes:
            self.query_one("#loss-chart", MetricChart).update_series(state.loss)
            self.query_one("#lr-chart", MetricChart).update_series(state.lr)
        if SCORES in changes:
            self._sync_scores()

    def _show_stage_rows(self, now: float, live: bool) -> None:
        """One row per running stage (stages side by side)."""
        state = self.state
        rows = [
            StageRow.of(stage, now, live, followed=stage is state.stage)
            for stage in state.running.values()
        ]
        if live:
            empty = "waiting for the next stage…"
        else:
            total = state.stages_total
            empty = f"no stage running ({state.stages_done}/{total or '?'} done)"
        tall = "-tall" if self.has_class("-tall") else "-short"
        self.query_one("#stage-rows", StageRows).show(
            rows, empty, STAGE_ROWS[tall], wide=self.size.width >= 110
        )

    def _elapsed(self, now: float, live: bool) -> float | None:
        state = self.state
        if live or state.run_end is not None:
            return state.elapsed(now)
        if state.started_t is not None and state.last_t is not None:
            return max(0.0, state.last_t - state.started_t)
        return None

    def _warning_text(self, live: bool) -> str:
        parts = []
        if self.bad_lines:
            numbers = ", ".join(map(str, self.bad_line_numbers[-5:]))
            more = "…" if self.bad_lines > 5 else ""
            plural = "s" if self.bad_lines != 1 else ""
            parts.append(
                f"⚠ {self.bad_lines} unreadable line{plural} in events.jsonl "
                f"skipped (line{plural} {more}{numbers})"
            )
        if self.unfinished_tail_bytes and not live:
            parts.append(
                f"⚠ the last line of events.jsonl is unfinished "
                f"({self.unfinished_tail_bytes} bytes)"
            )
        if self.state.malformed_events:
            parts.append(f"⚠ {self.state.malformed_events} malformed events ignored")
        return "  ".join(parts)

    def _stats_text(self) -> Text:
        state = self.state
        parts: list[tuple[str, str] | str] = []
        samples, tokens = state.samples_per_s, state.tokens_per_s
        if state.parallel:  # every running stage together
            running = list(state.running.values())
            samples = _total(s.samples_per_s for s in running)
            tokens = _total(s.tokens_per_s for s in running)
            if running:
                parts.append(f"{len(running)} running  ")
        if samples is not None:
            parts += [(rate(samples), "bold"), " samples/s  "]
        if tokens is not None:
            parts += [(rate(tokens), "bold"), " tokens/s  "]
        validation = state.validation.get(state.stage.id) if state.stage else None
        if validation is not None:
            metric = validation.metric
            unit = "%" if is_percentage(metric) else ""
            best = (
                f" (best {score_text(validation.best_value, metric)}"
                f" @ {validation.best_step})"
                if validation.best_step != validation.step
                else " (best)"
            )
            parts += ["val ", (score_text(validation.value, metric), "bold")]
            parts.append(f"{unit}{best}  ")
        if state.warnings:
            plural = "s" if state.warnings != 1 else ""
            parts.append((f"{state.warnings} warning{plural}", "yellow"))
        if not parts:
            return Text("")
        return Text.assemble(*parts)

    def _sync_scores(self) -> None:
        """Add what is new to the scores table (rows and cells are never
        rebuilt)."""
        table = self.query_one("#scores", DataTable)
        state = self.state
        for language in state.languages:
            if language not in self._score_columns:
                table.add_column(language, key=language, default="")
                self._score_columns.append(language)
        for stage_id, row in state.scores.items():
            shown = self._score_rows.get(stage_id)
            if shown is None:
                cells = [row.label] + [
                    score_text(row.values.get(lang), row.metric)
                    for lang in self._score_columns
                ]
                table.add_row(*cells, key=stage_id)
                self._score_rows[stage_id] = dict(row.values)
                continue
            for language, value in row.values.items():
                if shown.get(language) != value:
                    # A cell filled after its column was sized (the column
                    # added with the row's first language) must widen it, or
                    # 49.7 shows as "49".
                    table.update_cell(
                        stage_id,
                        language,
                        score_text(value, row.metric),
                        update_width=True,
                    )
                    shown[language] = value
        table.set_class(bool(state.scores), "-shown")

    def _reset_view(self) -> None:
        """events.jsonl was replaced: start over from the new file."""
        self.state.reset()
        self.bad_lines, self.bad_line_numbers = 0, []
        self.unfinished_tail_bytes = 0
        table = self.query_one("#scores", DataTable)
        table.clear(columns=True)
        table.add_column("target ← intermediate", key=STAGE_COLUMN)
        self._score_columns, self._score_rows = [], {}
        self._dirty = True

    def _set_text(self, widget_id: str, content: Any) -> None:
        """Update a line only when what it says changed."""
        if self._texts.get(widget_id) == content:
            return
        self._texts[widget_id] = content
        widget = self.query_one(f"#{widget_id}", Static)
        widget.update(content)
        if widget_id in ("error-line", "warning-line"):
            widget.set_class(bool(str(content)), "-shown")

    def _set_progress(self, widget_id: str, value: float) -> None:
        key = f"{widget_id}:progress"
        value = round(value, 4)
        if self._texts.get(key) != value:
            self._texts[key] = value
            self.query_one(f"#{widget_id}", ProgressBar).update(progress=value)

    # -- actions ----------------------------------------------------------------
    def action_back(self) -> None:
        bar = self.query_one("#log-search", LogSearchBar)
        if bar.shown:  # escape closes the log's search first
            self._close_search(bar)
            return
        if len(self.app.screen_stack) > 1 and self.app.screen is self:
            self.app.pop_screen()

    # -- the log: search, wrap, follow, copy --------------------------------
    def action_search_log(self) -> None:
        self.query_one("#log-search", LogSearchBar).open()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "log-search-input":
            self.query_one("#log", FollowingLog).search(event.value)
            self._show_match_count()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "log-search-input":
            log = self.query_one("#log", FollowingLog)
            log.jump_to_match(forward=True)
            log.focus()  # n / N / y from here
            self._show_match_count()

    def action_next_match(self) -> None:
        self._jump(forward=True)

    def action_previous_match(self) -> None:
        self._jump(forward=False)

    def _jump(self, forward: bool) -> None:
        bar = self.query_one("#log-search", LogSearchBar)
        if not bar.shown:
            bar.open()  # nothing searched yet: ask what to find
            return
        self.query_one("#log", FollowingLog).jump_to_match(forward)
        self._show_match_count()

    def _close_search(self, bar: LogSearchBar) -> None:
        bar.close()  # clearing the query clears the highlights
        log = self.query_one("#log", FollowingLog)
        log.search("")
        log.focus()

    def _show_match_count(self) -> None:
        log = self.query_one("#log", FollowingLog)
        bar = self.query_one("#log-search", LogSearchBar)
        if bar.shown:
            query = self.query_one("#log-search-input", Input).value
            bar.show_count(log.match_position, log.match_count, query)

    def action_follow_log(self) -> None:
        self.query_one("#log", FollowingLog).follow()

    def action_toggle_wrap(self) -> None:
        log = self.query_one("#log", FollowingLog)
        log.set_wrap(not log.wrap)
        self.notify(
            "long lines wrap" if log.wrap else "long lines scroll sideways",
            title="Log",
            timeout=2,
        )

    def action_copy_log_line(self) -> None:
        log = self.query_one("#log", FollowingLog)
        line = log.cursor_text
        if line is None:
            self.notify("the log is empty", title="Log", severity="warning")
            return
        # OSC 52: the terminal sets its clipboard, so it works over SSH too.
        self.app.copy_to_clipboard(line)
        short = line if len(line) <= 60 else line[:59] + "…"
        self.notify(f"copied: {short}", title="Log", timeout=3)

    def action_cancel_run(self) -> None:
        from xlt_tui.screens.confirm import ConfirmScreen

        def answered(yes: bool | None) -> None:
            if yes:
                self._cancel()

        self.app.push_screen(
            ConfirmScreen(
                f"Cancel run [b]{self.run_id}[/b]?\n\nIt stops at its next safe "
                "point; finished stages and scores are kept.",
                yes_label="Yes, cancel it",
            ),
            answered,
        )

    def _cancel(self) -> None:
        try:
            message = self.app.client.cancel(self.run_id)
        except InputError as exc:
            self.notify(str(exc), title="Cancel", severity="error")
            return
        self.notify(message, title="Cancel")
        self._wake_poll.set()  # show the new status soon

    def action_view_results(self) -> None:
        self.app.open_results(self.run_id)


_STATUS_STYLE = {
    "starting": "bold cyan",
    "running": "bold green",
    "queued": "bold cyan",
    "finished": "bold blue",
    "failed": "bold red",
    "interrupted": "bold red",
    "cancelled": "bold yellow",
}


def _eta_text(eta: float | None, live: bool) -> str:
    if not live:
        return ""
    return f"ETA {duration(eta)}" if eta is not None else "ETA --"


def _total(values) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None
