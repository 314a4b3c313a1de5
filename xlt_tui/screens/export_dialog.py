"""Pick what to export the results view as: one format, all four, or what
the engine draws for the run (figures, HTML report)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from xlt_tui.export import ENGINE_EXPORTS, FORMATS

# key -> format extension ("all": every format; "figure", "html": the engine's)
CHOICES = {
    "c": "csv",
    "m": "md",
    "l": "tex",
    "p": "png",
    "a": "all",
    "g": "figure",
    "h": "html",
}
LABELS = {**FORMATS, **ENGINE_EXPORTS, "all": "all four"}


class ExportDialog(ModalScreen[str | None]):
    """Dismisses with a format extension (csv, md, tex, png), "all", or None."""

    DEFAULT_CSS = """
    ExportDialog {
        align: center middle;
    }
    ExportDialog > Vertical {
        width: 54;
        height: auto;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    ExportDialog OptionList {
        height: auto;
        border: none;
    }
    ExportDialog .hint {
        color: $text-muted;
    }
    """

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel"),
        *(Binding(key, f"pick('{ext}')", show=False) for key, ext in CHOICES.items()),
    ]

    def __init__(self, target_name: str):
        super().__init__()
        self.target_name = target_name

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Export the view to {self.target_name}")
            options = [
                Option(f"[b]{key}[/b]  {LABELS[ext]}", id=ext)
                for key, ext in CHOICES.items()
            ]
            yield OptionList(*options)
            yield Label("enter or the letter: export · esc: cancel", classes="hint")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_pick(self, ext: str) -> None:
        self.dismiss(ext)
