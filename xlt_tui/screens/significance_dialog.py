"""The Results screen's significance settings: resamples, bootstrap seed and
multiple-comparison correction, as `xlt-engine results --ci --resamples N
--bootstrap-seed S --correction holm|bh|none`.

The engine's SignificanceSettings validates (one source for the bounds and
the messages the CLI gives); this dialog only parses the typed text into
integers and shows the engine's refusal in place, without closing.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Select, Static

from engine.errors import InputError
from engine.significance import CORRECTION_NAMES, SignificanceSettings
from engine.stats.bootstrap import DEFAULT_RESAMPLES
from engine.stats.multiple import CORRECTIONS


def settings_summary(settings: SignificanceSettings) -> str:
    """What the legend and notices say of the settings: "1000 resamples,
    Holm, seed 0"."""
    how = CORRECTION_NAMES[settings.correction]
    return f"{settings.n_resamples} resamples, {how}, seed {settings.seed}"


def parse_settings(
    resamples: str, seed: str, correction: str, current: SignificanceSettings
) -> SignificanceSettings:
    """The settings typed in; InputError (the CLI's words, by option name)
    when one is not valid. Confidence, alpha and the collapse threshold are
    not on the CLI either: kept from `current`."""
    numbers = {}
    for option, text in (("--resamples", resamples), ("--bootstrap-seed", seed)):
        try:
            numbers[option] = int(text.strip())
        except ValueError:
            default = DEFAULT_RESAMPLES if option == "--resamples" else 0
            raise InputError(
                f"{option}: '{text.strip()}' is not an integer (default {default})"
            ) from None
    return SignificanceSettings(
        n_resamples=numbers["--resamples"],
        seed=numbers["--bootstrap-seed"],
        confidence=current.confidence,
        alpha=current.alpha,
        correction=correction,
        collapse_threshold=current.collapse_threshold,
    )


class SignificanceDialog(ModalScreen[SignificanceSettings | None]):
    """Dismisses with the new settings, or None to keep the current ones."""

    DEFAULT_CSS = """
    SignificanceDialog {
        align: center middle;
    }
    SignificanceDialog > Vertical {
        width: 60;
        height: auto;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    SignificanceDialog .field {
        height: 1;
        margin: 1 0 0 0;
    }
    SignificanceDialog .field > Label {
        width: 16;
    }
    SignificanceDialog Input, SignificanceDialog Select {
        width: 1fr;
    }
    SignificanceDialog #significance-error {
        color: $error;
        height: auto;
    }
    SignificanceDialog .hint {
        color: $text-muted;
    }
    """

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("ctrl+s", "apply", "Apply", show=False),
    ]

    def __init__(self, current: SignificanceSettings) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Significance (paired bootstrap against the baseline)")
            with Horizontal(classes="field"):
                yield Label("resamples")
                yield Input(
                    str(self.current.n_resamples),
                    id="significance-resamples",
                    type="integer",
                    compact=True,
                )
            with Horizontal(classes="field"):
                yield Label("bootstrap seed")
                yield Input(
                    str(self.current.seed),
                    id="significance-seed",
                    type="integer",
                    compact=True,
                )
            with Horizontal(classes="field"):
                yield Label("correction")
                yield Select(
                    [(CORRECTION_NAMES[c], c) for c in CORRECTIONS],
                    value=self.current.correction,
                    allow_blank=False,
                    id="significance-correction",
                    compact=True,
                )
            yield Static("", id="significance-error")
            yield Label(
                "enter: apply · esc: cancel · as xlt-engine results --ci",
                classes="hint",
            )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_apply()

    def action_apply(self) -> None:
        correction = self.query_one("#significance-correction", Select).value
        try:
            settings = parse_settings(
                self.query_one("#significance-resamples", Input).value,
                self.query_one("#significance-seed", Input).value,
                str(correction),
                self.current,
            )
        except InputError as exc:
            self.query_one("#significance-error", Static).update(str(exc))
            return
        self.dismiss(settings)
