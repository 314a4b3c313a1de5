"""The `xlt` application: three top-level modes (runs, launch, results), the
monitor pushed on top of whichever mode opened it, and a help screen.

Kept small on purpose: each screen lives in its own module under screens/.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from engine.workspace import Workspace
from xlt_tui.commands import XltCommandProvider
from xlt_tui.engine_client import EngineClient


class XltApp(App):
    TITLE = "xlt"
    CSS_PATH = "xlt.tcss"
    BINDINGS = [
        # Digits for speed, F-keys for when a text field has the focus.
        Binding("1,f2", "show_mode('runs')", "Runs", key_display="1"),
        Binding("2,f3", "show_mode('launch')", "Launch", key_display="2"),
        Binding("3,f4", "show_mode('results')", "Results", key_display="3"),
        Binding("question_mark,f1", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]
    # Textual's system commands (theme, keys, quit...) and xlt's own.
    COMMANDS = App.COMMANDS | {XltCommandProvider}

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
        # Edits in the Launch form not launched yet: `q` asks before losing them.
        self.unsaved_launch_edits = False

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

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        from xlt_tui.screens.results import ResultsScreen

        if isinstance(screen, ResultsScreen):  # the palette's names for c and p
            yield SystemCommand(
                "Compare runs or choices",
                "B - A per language with its interval (paired bootstrap)",
                screen.action_compare,
            )
            yield SystemCommand(
                "Heatmap palette",
                "Switch between the default and the colour-blind-safe palette",
                screen.action_toggle_palette,
            )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The key of the mode already shown does nothing: it leaves the
        footer, so Help and Quit stay in view at 80 columns. Over a Monitor
        it stays (it goes back to the mode)."""
        if (
            action == "show_mode"
            and parameters == (self.current_mode,)
            and len(self.screen_stack) == 1
        ):
            return False
        return True

    async def action_show_mode(self, mode: str) -> None:
        """The mode's own screen: a Monitor (or Help) opened from it earlier is
        closed, so `1` always shows Runs, never an old Monitor."""
        await self.switch_mode(mode)
        while len(self.screen_stack) > 1:
            await self.pop_screen()

    async def action_quit(self) -> None:
        if not self.unsaved_launch_edits:
            self.exit()
            return
        from xlt_tui.screens.confirm import ConfirmScreen

        def answered(yes: bool | None) -> None:
            if yes:
                self.exit()

        await self.push_screen(
            ConfirmScreen(
                "Quit? The Launch form has edits that were not launched; they "
                "are lost.",
                yes_label="Yes, quit",
            ),
            answered,
        )

    def action_help(self) -> None:
        from xlt_tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))
