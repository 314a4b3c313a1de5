"""The monitor's rows of running stages: one line per stage that runs side by
side with others (stage, device, progress, ETA, throughput).

Everything that tells rows apart is in the text itself, not only in colour,
so NO_COLOR keeps it: the bar is drawn with two glyphs (█ done, ░ left), the
stage the charts follow is marked ▸.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from xlt_tui.monitor_state import StageProgress, duration, rate

BAR_WIDTH = 10
DONE, LEFT = "█", "░"
FOLLOWED = "▸"


@dataclass(frozen=True)
class StageRow:
    """What one row says, computed from the state at one moment."""

    id: str
    label: str
    device: str
    progress: float
    step: str
    eta: str
    throughput: str
    followed: bool  # the charts show this stage

    @classmethod
    def of(
        cls, stage: StageProgress, now: float, live: bool, followed: bool
    ) -> StageRow:
        eta = stage.eta(now) if live else None
        steps = f"{stage.step}/{stage.total_steps}" if stage.total_steps else ""
        speed = stage.samples_per_s
        return cls(
            id=stage.id,
            label=stage.label + (" (reused)" if stage.reused else ""),
            device=stage.device or "?",
            progress=stage.progress,
            step=steps,
            eta=(f"ETA {duration(eta)}" if eta is not None else "ETA --")
            if live
            else "",
            throughput=f"{rate(speed)} samples/s" if speed is not None else "",
            followed=followed,
        )


def bar(progress: float, width: int = BAR_WIDTH) -> str:
    done = round(max(0.0, min(1.0, progress)) * width)
    return DONE * done + LEFT * (width - done)


class StageRows(Static):
    """The running stages, one row each. `show(rows, ...)` redraws only when
    what they say changed."""

    DEFAULT_CSS = """
    StageRows {
        height: auto;
        width: 1fr;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None):
        super().__init__("", id=id, classes=classes)
        self.rows: tuple[StageRow, ...] = ()
        self._shown: tuple = ()

    def show(
        self,
        rows: Sequence[StageRow],
        empty: str,
        max_rows: int,
        wide: bool,
    ) -> None:
        key = (tuple(rows), empty, max_rows, wide)
        if key == self._shown:
            return
        self._shown = key
        self.rows = tuple(rows)
        self.update(render_rows(rows, empty, max_rows, wide))


def render_rows(
    rows: Sequence[StageRow], empty: str, max_rows: int, wide: bool
) -> Table | Text:
    if not rows:
        return Text(empty, style="dim")
    table = Table(
        box=None, show_header=False, expand=True, padding=(0, 1), pad_edge=False
    )
    table.add_column(width=1, no_wrap=True)  # ▸
    table.add_column(ratio=1, no_wrap=True, overflow="ellipsis")  # stage
    table.add_column(no_wrap=True)  # device
    table.add_column(no_wrap=True)  # bar
    table.add_column(justify="right", no_wrap=True)  # %
    if wide:
        table.add_column(justify="right", no_wrap=True)  # steps
    table.add_column(justify="right", no_wrap=True)  # ETA
    table.add_column(justify="right", no_wrap=True)  # samples/s
    shown = list(rows) if len(rows) <= max_rows else list(rows[: max_rows - 1])
    for row in shown:
        cells: list[Text | str] = [
            FOLLOWED if row.followed else " ",
            Text(row.label, style="bold" if row.followed else ""),
            Text(row.device, style="cyan"),
            bar(row.progress, 2 * BAR_WIDTH if wide else BAR_WIDTH),
            f"{100 * row.progress:.0f}%",
        ]
        if wide:
            cells.append(row.step)
        cells += [row.eta, row.throughput]
        table.add_row(*cells)
    if len(shown) < len(rows):
        table.add_row("", Text(f"+{len(rows) - len(shown)} more running", "dim"))
    return table
