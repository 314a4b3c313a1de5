"""Small live charts for the monitor: a title line (current value, min, max)
over a bar chart of the series (`SeriesBars`).

Cheap to update: the screen calls `update_series` a few times a second at
most, with the last MAX_POINTS values; the bars bucket them into the width
(mean per bucket), and nothing is redrawn when nothing changed.

Not Textual's Sparkline: it draws the lowest value as a bar of height zero in
its faintest colour (blank on most terminals) and stretches a single point
over the whole chart as a full block. Here the lowest value is the thinnest
visible bar, a flat series sits at mid height, and n points fill n columns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

BARS = "▁▂▃▄▅▆▇█"


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def format_loss(value: float) -> str:
    return f"{value:.4f}" if abs(value) < 100 else f"{value:.1f}"


def format_lr(value: float) -> str:
    return f"{value:.1e}"


def bar_lines(values: Sequence[float], width: int, height: int) -> list[str]:
    """The chart's rows, top first: one column per bucket of values (at most
    one value per column, so few points draw few columns, left-aligned)."""
    if width <= 0 or height <= 0:
        return []
    if not values:
        return [" " * width for _ in range(height)]
    columns = min(width, len(values))
    buckets = [
        values[len(values) * c // columns : len(values) * (c + 1) // columns]
        for c in range(columns)
    ]
    means = [_mean(b) for b in buckets]
    lo, hi = min(means), max(means)
    eighths = 8 * height
    if hi > lo:  # lowest -> 1 eighth (visible), highest -> full height
        levels = [1 + round((m - lo) / (hi - lo) * (eighths - 1)) for m in means]
    else:  # one point or a flat series: mid height, not a full block
        levels = [max(1, eighths // 2)] * columns
    rows = []
    for row in reversed(range(height)):
        floor = 8 * row
        cells = []
        for level in levels:
            part = level - floor
            cells.append(" " if part <= 0 else BARS[min(part, 8) - 1])
        rows.append("".join(cells).ljust(width))
    return rows


class SeriesBars(Widget):
    """The bars of one series, in the widget's colour (readable without
    colour too: the shapes carry the values)."""

    DEFAULT_CSS = """
    SeriesBars { height: 2; color: $primary; }
    """
    data: reactive[tuple[float, ...]] = reactive(tuple)

    def render(self) -> Text:
        lines = bar_lines(list(self.data), self.size.width, self.size.height)
        return Text("\n".join(lines))


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
    MetricChart > SeriesBars {
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
        yield SeriesBars()

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
        self.query_one(SeriesBars).data = tuple(values)
