"""What `xlt-engine run` shows while it works, built from the event stream.

On a terminal: a progress bar for the stage in progress (loss, samples/s, ETA)
under the lines of finished stages. Not on a terminal (a log file, a pipe, a
CI job): plain lines, a step line at most every 10% of a stage or 30 seconds.
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
    def __init__(self, console: Console | None = None, plain: bool | None = None):
        self.console = console or Console(stderr=False, highlight=False)
        self.plain = (not self.console.is_terminal) if plain is None else plain
        self.progress: Progress | None = None
        self.bar: TaskID | None = None
        self._last_plain = (0.0, -1)

    def __call__(self, event: dict[str, Any]) -> None:
        handler = getattr(self, f"on_{event.get('type')}", None)
        if handler:
            handler(event)

    def print(self, text: str) -> None:
        if self.progress is not None:
            self.progress.console.print(text, highlight=False)
        else:
            self.console.print(text, highlight=False, soft_wrap=True)

    def on_run_start(self, e):
        self.print(
            f"[bold]run {e['run_id']}[/bold]  {e.get('name', '')}  "
            f"device {e.get('device')}  workspace {e.get('workspace')}"
        )

    def on_stage_start(self, e):
        what = e["stage"]
        tag = " (reused)" if e.get("reused") else ""
        self.print(f"\\[{e['index']}/{e['total']}] {escape(what)}{tag}")
        if not self.plain and not e.get("reused"):
            self._start_bar(what)
        self._last_plain = (time.monotonic(), -1)

    def on_step(self, e):
        total = e.get("total_steps") or 1
        if self.bar is not None and self.progress is not None:
            self.progress.update(
                self.bar,
                total=total,
                completed=e["step"],
                info=f"loss {e['loss']:.4f}  {e.get('samples_per_s', 0):.0f} samples/s",
            )
            return
        now = time.monotonic()
        decile = int(10 * e["step"] / total)
        last_t, last_decile = self._last_plain
        if decile > last_decile or now - last_t > 30 or e["step"] == total:
            self._last_plain = (now, decile)
            self.print(
                f"    step {e['step']}/{total}  loss {e['loss']:.4f}  "
                f"lr {e['lr']:.2e}  {e.get('samples_per_s', 0):.0f} samples/s  "
                f"eta {duration_text(e.get('eta_s', 0))}"
            )

    def on_eval(self, e):
        if e.get("final"):
            self.print(
                f"    {e['task']} \\[{e['language']}] {e['metric']} "
                f"{e['value']:.4f}  (n={e.get('n_examples')})"
            )
        elif e.get("split") == "validation":
            mark = " *" if e.get("best") else ""
            self.print(
                f"    step {e.get('step')}: validation {e['metric']} "
                f"{e['value']:.4f}{mark}"
            )

    def on_stage_end(self, e):
        self._stop_bar()
        self.print(f"    done in {duration_text(e.get('seconds', 0))}")

    def on_warning(self, e):
        self.print(f"[yellow]warning:[/yellow] {escape(str(e.get('message')))}")

    def on_error(self, e):
        self._stop_bar()
        self.print(f"[red]error:[/red] {escape(str(e.get('message')))}")

    def on_run_end(self, e):
        self._stop_bar()
        self.print(
            f"run {status_markup(e['status'])} in "
            f"{duration_text(e.get('seconds', 0))}: {e.get('stages_done', 0)} of "
            f"{e.get('stages_total', 0)} stages"
        )

    def _start_bar(self, description: str) -> None:
        self._stop_bar()
        self.progress = Progress(
            TextColumn("    "),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self.progress.start()
        self.bar = self.progress.add_task(description, total=None, info="")

    def _stop_bar(self) -> None:
        if self.progress is not None:
            self.progress.stop()
        self.progress = None
        self.bar = None
