"""A heatmap of a results grid: a DataTable whose cells carry their colour, and
the legend that says what the colours mean.

Cells are coloured blocks (no padding between them) with black or white text,
whichever reads on the colour; a cell whose number is not comparable carries
its mark (†) in the text itself, so it shows without colour (NO_COLOR) too, as
do the significance marks (* significant, ! collapsed, ? no predictions;
results_view.with_significance) and the legend lines that explain them.
The cursor is drawn in the theme's cursor colour over the cell, so it stays
visible on any colour. Rebuilding with a new
grid keeps the cursor on the same row and column names where they still exist.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.coordinate import Coordinate
from textual.strip import Strip
from textual.widgets import DataTable, Static

from xlt_tui.results_view import Grid, text_colour

MIN_CELL = 5  # characters of a cell's text, before its padding


class Heatmap(DataTable):
    def __init__(self, *, id: str | None = None, classes: str | None = None):
        super().__init__(
            id=id,
            classes=classes,
            cursor_type="cell",
            cell_padding=0,
            zebra_stripes=False,
            cursor_foreground_priority="css",
            cursor_background_priority="css",
        )
        self.grid: Grid | None = None
        self.sort_column: str | None = None
        self.descending = True

    # -- content ------------------------------------------------------------
    def show(
        self, grid: Grid, sort_column: str | None = None, descending: bool = True
    ) -> None:
        """Draw `grid`, keeping the cursor on the same names where possible."""
        here = self.cursor_cell()
        self.grid = grid
        self.sort_column, self.descending = sort_column, descending
        self.clear(columns=True)
        widths = {
            col: max(
                [MIN_CELL, len(col) + 2, *(len(grid.text(r, col)) for r in grid.rows)]
            )
            for col in grid.columns
        }
        for col in grid.columns:
            arrow = (" ▼" if descending else " ▲") if col == sort_column else ""
            label = Text(f"{col}{arrow} ".rjust(widths[col] + 2), style="bold")
            self.add_column(label, key=col, width=widths[col] + 2)
        label_width = max((len(r) for r in grid.rows), default=0)
        for row in grid.rows:
            label = Text(row.ljust(label_width) + " ", style="bold")
            cells = [self._cell(grid, row, col, widths[col]) for col in grid.columns]
            self.add_row(*cells, key=row, label=label)
        if here is not None:
            row, col = here
            if row in grid.rows and col in grid.columns:
                self.move_cursor(
                    row=grid.rows.index(row),
                    column=grid.columns.index(col),
                    animate=False,
                )

    @staticmethod
    def _cell(grid: Grid, row: str, col: str, width: int) -> Text:
        body = f" {grid.text(row, col).rjust(width)} "
        colour = grid.colour(row, col)
        if colour is None:
            style = "dim italic" if grid.is_reference(row) else "dim"
            return Text(body, style=style)
        bold = " bold" if col == "avg" else ""
        return Text(body, style=f"{text_colour(colour)}{bold} on {colour}")

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        # A line of this table can hold an empty segment without a style, and
        # Textual's NO_COLOR filter (Monochrome) fails on one (seen with
        # textual 8.2 once a cell holds the † mark): give it an empty style.
        if any(seg.style is None for seg in strip):
            segments = [Segment(s.text, s.style or Style(), s.control) for s in strip]
            strip = Strip(segments, strip.cell_length)
        return strip

    # -- cursor -------------------------------------------------------------
    def cursor_cell(self) -> tuple[str, str] | None:
        """(row name, column name) under the cursor; None when empty."""
        if self.grid is None or not self.grid.rows or not self.grid.columns:
            return None
        coord: Coordinate = self.cursor_coordinate
        if not (0 <= coord.row < len(self.grid.rows)):
            return None
        if not (0 <= coord.column < len(self.grid.columns)):
            return None
        return self.grid.rows[coord.row], self.grid.columns[coord.column]

    def move_to(self, row: str, column: str) -> None:
        if self.grid and row in self.grid.rows and column in self.grid.columns:
            self.move_cursor(
                row=self.grid.rows.index(row),
                column=self.grid.columns.index(column),
                animate=False,
            )


class HeatmapLegend(Static):
    """Low label, colour ramp, high label, and what the colours mean."""

    DEFAULT_CSS = """
    HeatmapLegend {
        height: auto;
        padding: 0 1;
    }
    """

    STEPS = 12

    def show(self, grid: Grid | None, note: str = "") -> None:
        if grid is None or grid.empty:
            self.update(Text(note, style="dim"))
            return
        legend = grid.legend()
        text = Text()
        text.append(legend.low + " ")
        colours = legend.colours(self.STEPS)
        for i, colour in enumerate(colours):
            text.append(" ", style=f"on {colour}")
            if legend.mid and i == len(colours) // 2 - 1:
                text.append(legend.mid, style=f"bold {text_colour(colour)} on {colour}")
        text.append(" " + legend.high)
        text.append(f"  {legend.caption}", style="dim")
        if note:
            text.append(f"  {note}", style="dim")
        for footnote in grid.footnotes:  # what a mark (†) in a cell means
            text.append(f"\n{footnote}", style="bold")
        self.update(text)
