"""What `xlt-engine run` shows while it works, built from the event stream.

On a terminal: a progress bar for the stage in progress (loss, samples/s, ETA)
under the lines of finished stages; before the first step, the bar names what
the stage is doing (loading the model, tokenizing a split), which on a large
model or dataset takes minutes. Not on a terminal (a log file, a pipe, a CI
job): plain lines, one per such phase, a step line at most every 10% of a
stage or 30 seconds.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from engine.display import duration_text, status_markup


class ConsoleReporter:
    """Prints a run's events. With several stages running at once (workers,
    a Ray cluster) every stage's line starts with its number, [3/8], and a
    terminal shows one bar per running stage: two workers' lines never read
    as one stage's."""

    def __init__(self, console: Console | None = None, plain: bool | None = None):
        self.console = console or Console(stderr=False, highlight=False)
        self.plain = (not self.console.is_terminal) if plain is None else plain
        self.progress: Progress | None = None
        self.bars: dict[str, TaskID] = {}  # running stage -> its bar
        self.running: dict[str, str] = {}  # running stage -> "3/8"
        self.side_by_side = False  # set once two stages ran at the same time
        self._last_plain: dict[str, tuple[float, int]] = {}

    def __call__(self, event: dict[str, Any]) -> None:
        handler = getattr(self, f"on_{event.get('type')}", None)
        if handler:
            handler(event)

    def print(self, text: str) -> None:
        if self.progress is not None:
            self.progress.console.print(text, highlight=False)
        else:
            self.console.print(text, highlight=False, soft_wrap=True)

    def _line(self, e: dict[str, Any], text: str) -> None:
        """A line of one stage: indented, and numbered when stages overlap."""
        number = self.running.get(str(e.get("stage")))
        tag = f"\\[{number}] " if self.side_by_side and number else ""
        self.print(f"    {tag}{text}")

    def _bar(self, e: dict[str, Any]) -> TaskID | None:
        return self.bars.get(str(e.get("stage")))

    def on_run_start(self, e):
        self.print(
            f"[bold]run {e['run_id']}[/bold]  {e.get('name', '')}  "
            f"device {e.get('device')}  workspace {e.get('workspace')}"
        )

    def on_stage_start(self, e):
        stage = str(e["stage"])
        tag = " (reused)" if e.get("reused") else ""
        where = f"  on {e['device']}" if e.get("worker_pid") and e.get("device") else ""
        self.running[stage] = f"{e['index']}/{e['total']}"
        if len(self.running) > 1:
            self.side_by_side = True
        self.print(f"\\[{e['index']}/{e['total']}] {escape(stage)}{tag}{where}")
        if not self.plain and not e.get("reused"):
            self._start_bar(stage, self.running[stage])
        self._last_plain[stage] = (time.monotonic(), -1)

    def on_phase(self, e):
        message = str(e.get("message", e.get("phase", "")))
        bar = self._bar(e)
        if bar is not None and self.progress is not None:
            self.progress.update(bar, info=f"{escape(message)} ...")
            return
        self._line(e, f"{escape(message)} ...")

    def on_step(self, e):
        total = e.get("total_steps") or 1
        bar = self._bar(e)
        if bar is not None and self.progress is not None:
            self.progress.update(
                bar,
                total=total,
                completed=e["step"],
                info=f"loss {e['loss']:.4f}  {e.get('samples_per_s', 0):.0f} samples/s",
            )
            return
        stage = str(e.get("stage"))
        now = time.monotonic()
        decile = int(10 * e["step"] / total)
        last_t, last_decile = self._last_plain.get(stage, (0.0, -1))
        if decile > last_decile or now - last_t > 30 or e["step"] == total:
            self._last_plain[stage] = (now, decile)
            self._line(
                e,
                f"step {e['step']}/{total}  loss {e['loss']:.4f}  "
                f"lr {e['lr']:.2e}  {e.get('samples_per_s', 0):.0f} samples/s  "
                f"eta {duration_text(e.get('eta_s', 0))}",
            )

    def on_eval(self, e):
        if e.get("final"):
            self._line(
                e,
                f"{e['task']} \\[{e['language']}] {e['metric']} "
                f"{e['value']:.4f}  (n={e.get('n_examples')})",
            )
        elif e.get("split") == "validation":
            mark = " *" if e.get("best") else ""
            self._line(
                e,
                f"step {e.get('step')}: validation {e['metric']} "
                f"{e['value']:.4f}{mark}",
            )

    def on_stage_end(self, e):
        self._stop_bar(str(e.get("stage")))
        self._line(e, f"done in {duration_text(e.get('seconds', 0))}")
        self.running.pop(str(e.get("stage")), None)
        self._last_plain.pop(str(e.get("stage")), None)

    def on_warning(self, e):
        self.print(f"[yellow]warning:[/yellow] {escape(str(e.get('message')))}")

    def on_error(self, e):
        self._stop_all()
        self.print(f"[red]error:[/red] {escape(str(e.get('message')))}")

    def on_run_end(self, e):
        self._stop_all()
        self.print(
            f"run {status_markup(e['status'])} in "
            f"{duration_text(e.get('seconds', 0))}: {e.get('stages_done', 0)} of "
            f"{e.get('stages_total', 0)} stages"
        )

    def _start_bar(self, stage: str, number: str) -> None:
        self._stop_bar(stage)
        if self.progress is None:
            self.progress = Progress(
                TextColumn("    {task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self.progress.start()
        self.bars[stage] = self.progress.add_task(f"\\[{number}]", total=None, info="")

    def _stop_bar(self, stage: str) -> None:
        bar = self.bars.pop(stage, None)
        if bar is not None and self.progress is not None:
            self.progress.remove_task(bar)
        if not self.bars:
            self._stop_all()

    def _stop_all(self) -> None:
        if self.progress is not None:
            self.progress.stop()
        self.progress = None
        self.bars = {}
