"""Help: what each screen is for and every key binding, taken from the
bindings themselves so it cannot drift from the code."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

ABOUT = {
    "RunsScreen": "Every run in this workspace, live; a run whose engine died "
    "shows as interrupted. progress and ETA: the Monitor's; a failed or "
    "cancelled run shows where it stopped. / filters: words of id or name, "
    "status:fail (any start of a status), status:live, status:ended, name:WORD; "
    "escape clears. s sorts by the next column, S reverses; or click a header. "
    "Narrow terminals cut the id's start (its date: see started).",
    "LaunchScreen": "Choose model, tasks, languages, seeds and hyperparameters, or "
    "open a config; the engine checks the form as you type. Launch starts "
    "xlt-engine in the background: it keeps running if you quit or lose the "
    "connection.",
    "MonitorScreen": "One run, live from its event log: progress, loss, learning "
    "rate, throughput, scores per language and the engine log. The log follows "
    "its tail until you scroll up or jump to a match; its search ignores case "
    "unless the query has a capital. Pick a line with up/down (tab to the log) "
    "or a click; y copies it through the terminal, so over SSH too.",
    "ResultsScreen": "Zero-shot scores per language as a heatmap: rows are "
    "intermediate choices (baseline first), columns languages plus the average; "
    "o: average per target; x: the XTREME table (task, group and overall scores); "
    "i: the intervals' resamples, bootstrap seed and correction (as results --ci).",
}


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90; max-width: 100%; height: auto; max-height: 100%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    """
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]

    def __init__(self, under: Screen):
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        name = type(self.under).__name__
        with VerticalScroll():
            yield Static(f"[b]{name.removesuffix('Screen')}[/b]  {ABOUT.get(name, '')}")
            yield Static(self._bindings_table(name))
            yield Static(
                "Workspace: "
                f"{self.app.sub_title}  ·  the same runs and results as "
                "`xlt-engine runs` / `xlt-engine results --workspace ...`"
            )

    def _bindings_table(self, name: str) -> Table:
        table = Table(box=None, show_header=True, header_style="bold", expand=True)
        table.add_column("key", no_wrap=True)
        table.add_column("action")
        table.add_column("where", style="dim")
        rows: list[tuple[str, str, str]] = []
        for where, bindings in (
            (name, self.under.BINDINGS),
            ("everywhere", self.app.BINDINGS),
        ):
            for b in bindings:
                if isinstance(b, Binding) and b.description:
                    keys = b.key_display or b.key.replace(",", " / ")
                    rows.append((keys, b.description, where.removesuffix("Screen")))
        for row in rows:
            table.add_row(*row)
        return table
