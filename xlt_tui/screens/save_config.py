"""Save the Launch form as a TOML experiment file: where (a small modal with
a default path) and how (checked by the engine first, written atomically).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import tomli_w
from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from engine.atomic import write_text_atomic
from engine.config import parse_config
from engine.errors import InputError
from engine.workspace import Workspace
from xlt_tui.launch_form import sample_config_dirs
from xlt_tui.screens.confirm import ConfirmScreen
from xlt_tui.widgets.ordered_input import OrderedInput

CONFIGS_FOLDER = "configs"  # under the workspace, for forms not from a user file


def file_stem(name: str) -> str:
    """An experiment name as a file name: 'my run/2' -> 'my-run-2'."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name.strip()).strip("-.")
    return stem or "experiment"


def default_save_path(source: Path, name: str, workspace: Workspace) -> Path:
    """Next to the opened file when it is the user's own; else (a sample, an
    earlier run's config, a new form) under <workspace>/configs/."""
    file_name = f"{file_stem(name)}.toml"
    source = source.resolve()
    managed = [workspace.root.resolve(), *(d.resolve() for d in sample_config_dirs())]
    if source.is_file() and not any(source.is_relative_to(d) for d in managed):
        return source.parent / file_name
    return workspace.root / CONFIGS_FOLDER / file_name


def write_config(raw: dict[str, Any], path: Path) -> None:
    """Write the form's table to `path`, all or nothing. The engine checks it
    first as a file at that place (relative data paths are read from its
    folder), so what is written loads back with `load_config`; InputError
    (the engine's words) otherwise, and nothing is written."""
    if path.is_dir():
        raise InputError(f"'{path}' is a folder; expected a .toml file's path")
    if path.suffix != ".toml":
        raise InputError(f"'{path}': expected a path ending in .toml")
    parse_config(raw, source=path)
    try:
        write_text_atomic(path, tomli_w.dumps(raw))
    except OSError as exc:
        raise InputError(f"cannot write '{path}': {exc.strerror or exc}") from None


class SaveConfigScreen(ModalScreen[Path | None]):
    """Asks where to save the form's table and saves it there (asking again
    before it replaces a file); dismisses with the path written, or None.
    A refusal (the engine's words, or the file system's) shows here, so the
    user can fix the path or cancel."""

    DEFAULT_CSS = """
    SaveConfigScreen { align: center middle; }
    SaveConfigScreen > Vertical {
        width: 76; max-width: 95%; height: auto;
        border: round $accent; background: $surface; padding: 0 1;
    }
    SaveConfigScreen .hint { color: $text-muted; }
    SaveConfigScreen #save-error { color: $error; height: auto; }
    SaveConfigScreen Horizontal { height: auto; align-horizontal: right; }
    SaveConfigScreen Button { margin-left: 2; }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, default: Path, raw: dict[str, Any]):
        super().__init__()
        self.default = default
        self.raw = raw

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Save the form as a TOML experiment file")
            yield OrderedInput(str(self.default), id="save-path")
            yield Static(
                "enter saves; an existing file is replaced only when you say "
                "so; escape cancels",
                classes="hint",
            )
            yield Static("", id="save-error")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Save", id="save", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#save-path", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save":
            self._save()
        else:
            self.dismiss(None)

    def _save(self) -> None:
        text = self.query_one("#save-path", Input).value.strip()
        if not text:
            self._show_error("type a path to save to")
            return
        path = Path(text).expanduser()
        if not path.is_file():
            self._write(path)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._write(path)

        self.app.push_screen(
            ConfirmScreen(
                f"[b]{escape(str(path))}[/b] exists. Replace it with this form?",
                yes_label="Yes, replace",
            ),
            answered,
        )

    def _write(self, path: Path) -> None:
        try:
            write_config(self.raw, path)
        except InputError as exc:
            self._show_error(f"not saved: {exc}")
            return
        self.dismiss(path)

    def _show_error(self, text: str) -> None:
        self.query_one("#save-error", Static).update(escape(text))
