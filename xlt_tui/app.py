"""The `xlt` application: three top-level modes (runs, launch, results), the
monitor pushed on top of whichever mode opened it, and a help screen.

Kept small on purpose: each screen lives in its own module under screens/.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.binding import Binding

from engine.workspace import Workspace
from xlt_tui.engine_client import EngineClient


class XltApp(App):
    TITLE = "xlt"
    CSS_PATH = "xlt.tcss"
    BINDINGS = [
        # Digits for speed, F-keys for when a text field has the focus.
        Binding("1,f2", "switch_mode('runs')", "Runs", key_display="1"),
        Binding("2,f3", "switch_mode('launch')", "Launch", key_display="2"),
        Binding("3,f4", "switch_mode('results')", "Results", key_display="3"),
        Binding("question_mark,f1", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        workspace: Workspace,
        config_file: Path | None = None,
        start_mode: str | None = None,
        poll_seconds: float = 1.0,
    ):
        super().__init__()
        self.client = EngineClient(workspace)
        self.config_file = config_file
        self.poll_seconds = poll_seconds
        self._start_mode = start_mode or ("launch" if config_file else "runs")
        self.sub_title = str(workspace.root)

    def on_mount(self) -> None:
        from xlt_tui.screens.launch import LaunchScreen
        from xlt_tui.screens.results import ResultsScreen
        from xlt_tui.screens.runs import RunsScreen

        self.add_mode("runs", RunsScreen)
        self.add_mode("launch", lambda: LaunchScreen(self.config_file))
        self.add_mode("results", ResultsScreen)
        self.switch_mode(self._start_mode)

    def open_monitor(self, run_id: str) -> None:
        from xlt_tui.screens.monitor import MonitorScreen

        self.push_screen(MonitorScreen(run_id))

    def open_results(self, run_id: str | None = None) -> None:
        """Switch to the results mode, showing `run_id` (default: the latest run
        with results)."""
        from xlt_tui.screens.results import ResultsScreen

        self.switch_mode("results")
        screen = self.screen
        if not isinstance(screen, ResultsScreen):  # the mode's only screen
            raise RuntimeError(f"the results mode shows {type(screen).__name__}")
        screen.show_run(run_id)

    def action_help(self) -> None:
        from xlt_tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))
