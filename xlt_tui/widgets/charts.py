"""Small live charts for the monitor: a title line (current value, min, max)
over a Textual Sparkline.

Cheap to update: the screen calls `update_series` a few times a second at
most, with the last MAX_POINTS values; the sparkline buckets them into its
width (mean per bucket), and nothing is redrawn when nothing changed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def format_loss(value: float) -> str:
    return f"{value:.4f}" if abs(value) < 100 else f"{value:.1f}"


def format_lr(value: float) -> str:
    return f"{value:.1e}"


class MetricChart(Vertical):
    """A labelled sparkline of one series (loss, learning rate)."""

    DEFAULT_CSS = """
    MetricChart {
        height: auto;
        width: 1fr;
    }
    MetricChart > .chart--title {
        height: 1;
        width: 1fr;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    MetricChart > Sparkline {
        height: 2;
        width: 1fr;
    }
    """

    def __init__(
        self,
        label: str,
        formatter: Callable[[float], str] = format_loss,
        *,
        id: str | None = None,
        classes: str | None = None,
    ):
        super().__init__(id=id, classes=classes)
        self.label = label
        self.formatter = formatter
        self.current: float | None = None
        self.minimum: float | None = None
        self.maximum: float | None = None
        self.points = 0
        self._title_text = ""

    def compose(self) -> ComposeResult:
        self._title_text = self._title()
        yield Static(self._title_text, classes="chart--title")
        yield Sparkline([], summary_function=_mean)

    def _title(self) -> str:
        # (the three are set together)
        if self.current is None or self.minimum is None or self.maximum is None:
            return f"{self.label} --"
        f = self.formatter
        return (
            f"{self.label} {f(self.current)}  "
            f"[dim]min {f(self.minimum)} max {f(self.maximum)}[/]"
        )

    def update_series(self, values: Sequence[float]) -> None:
        """Show `values` (oldest first)."""
        values = list(values)
        if values:
            self.current, self.minimum, self.maximum = (
                values[-1],
                min(values),
                max(values),
            )
        else:
            self.current = self.minimum = self.maximum = None
        self.points = len(values)
        title = self._title()
        if title != self._title_text:
            self._title_text = title
            self.query_one(".chart--title", Static).update(title)
        self.query_one(Sparkline).data = values
