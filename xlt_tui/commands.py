"""xlt's own commands in the command palette (ctrl+p): launch, cancel a run,
open a run's monitor or results, export, compare, open a config.

Each command goes to the screen that owns the action and calls it there, so
the palette and the keys do the same thing (cancel still asks first); nothing
here repeats a screen's logic. Per-run commands name the run with its status,
read once when the palette opens.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

from engine.control import LIVE_STATUSES
from engine.errors import InputError
from xlt_tui.launch_form import config_choices

if TYPE_CHECKING:
    from xlt_tui.app import XltApp

# How long an export or compare picked before the Results screen has read the
# results waits for that first read (it takes well under a second).
RESULTS_LOAD_WAIT_S = 10.0


@dataclass(frozen=True)
class PaletteCommand:
    name: str
    help: str
    run: Callable[[], Awaitable[None] | None]
    discover: bool = False  # listed before anything is typed


def run_label(run: dict[str, Any]) -> str:
    """'20261126-080000-demo-a1b2 demo (running)'."""
    name = run.get("name")
    return f"{run['id']}{f' {name}' if name else ''} ({run.get('status', '?')})"


async def show_mode(app: XltApp, mode: str) -> Any:
    """The mode's own screen, on top (a Monitor opened over it is closed, as
    the mode's key does)."""
    await app.action_show_mode(mode)
    return app.screen


async def launch(app: XltApp) -> None:
    from xlt_tui.screens.launch import LaunchScreen

    screen = await show_mode(app, "launch")
    if isinstance(screen, LaunchScreen):
        screen.action_launch()


async def cancel(app: XltApp, run_id: str) -> None:
    from xlt_tui.screens.monitor import MonitorScreen
    from xlt_tui.screens.runs import RunsScreen

    here = app.screen
    if isinstance(here, MonitorScreen) and here.run_id == run_id:
        here.action_cancel_run()  # stay on the run's monitor
        return
    screen = await show_mode(app, "runs")
    if isinstance(screen, RunsScreen):
        screen.cancel_run(run_id)


async def open_config(app: XltApp, path: Path) -> None:
    from xlt_tui.screens.launch import LaunchScreen

    screen = await show_mode(app, "launch")
    if isinstance(screen, LaunchScreen):
        screen.open_file(path)


def on_results(app: XltApp, action: str) -> None:
    """Run the Results screen's `action_<action>` once it has read the
    results (a first visit reads them in a worker)."""

    async def go() -> None:
        from xlt_tui.screens.results import ResultsScreen

        screen = await show_mode(app, "results")
        if not isinstance(screen, ResultsScreen):
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RESULTS_LOAD_WAIT_S
        while not screen.loaded and loop.time() < deadline:
            await asyncio.sleep(0.05)
        getattr(screen, f"action_{action}")()

    # A worker, not the palette's callback: the wait must not hold the app's
    # message queue (keys, redraws) for its length.
    app.run_worker(go(), group="palette", exclusive=True, exit_on_error=False)


def xlt_commands(
    app: XltApp,
    runs: list[dict[str, Any]],
    configs: list[tuple[str, Path]],
    on_results_screen: bool,
) -> list[PaletteCommand]:
    """Every xlt command the palette offers; `runs` newest first."""
    commands = [
        PaletteCommand(
            "Launch",
            "Launch the experiment in the Launch form (after its check)",
            partial(launch, app),
            discover=True,
        ),
        PaletteCommand(
            "Export results",
            "The Results view to CSV, Markdown, LaTeX, PNG or HTML",
            partial(on_results, app, "export"),
            discover=True,
        ),
    ]
    if not on_results_screen:  # there the system command of the same name is
        commands.append(
            PaletteCommand(
                "Compare runs or choices",
                "B - A per language with its interval (paired bootstrap)",
                partial(on_results, app, "compare"),
                discover=True,
            )
        )
    for run in runs:
        label, rid = run_label(run), run["id"]
        if run.get("status") in LIVE_STATUSES:
            commands.append(
                PaletteCommand(
                    f"Cancel run {label}",
                    "Stop it at its next safe point (asks first)",
                    partial(cancel, app, rid),
                )
            )
        commands.append(
            PaletteCommand(
                f"Open run {label}",
                "Its monitor: progress, charts, scores, log",
                partial(app.open_monitor, rid),
            )
        )
        commands.append(
            PaletteCommand(
                f"Results of run {label}",
                "Its heatmaps in the Results screen",
                partial(app.open_results, rid),
            )
        )
    for label, path in configs:
        commands.append(
            PaletteCommand(
                f"Open config {label}",
                f"Load {path} into the Launch form",
                partial(open_config, app, path),
            )
        )
    return commands


class XltCommandProvider(Provider):
    """xlt's commands, next to Textual's system commands in `XltApp.COMMANDS`."""

    commands: list[PaletteCommand]  # made in startup, before any search

    async def startup(self) -> None:
        from xlt_tui.app import XltApp
        from xlt_tui.screens.results import ResultsScreen

        app = self.app
        if not isinstance(app, XltApp):
            raise RuntimeError(f"xlt's commands need an XltApp, not {app!r}")
        # The store is a file: read it off the UI thread.
        runs, configs = await asyncio.to_thread(read_runs_and_configs, app)
        self.commands = xlt_commands(
            app, runs, configs, isinstance(self.screen, ResultsScreen)
        )

    async def discover(self) -> Hits:
        for command in self.commands:
            if command.discover:
                yield DiscoveryHit(command.name, command.run, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self.commands:
            score = matcher.match(command.name)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(command.name),
                    command.run,
                    text=command.name,
                    help=command.help,
                )


def read_runs_and_configs(
    app: XltApp,
) -> tuple[list[dict[str, Any]], list[tuple[str, Path]]]:
    try:
        runs = app.client.runs()
    except InputError:
        runs = []  # a damaged store: the Runs screen says so; no run commands
    configs = [(c.label, c.path) for c in config_choices(app.client.workspace, runs)]
    return list(reversed(runs)), configs
