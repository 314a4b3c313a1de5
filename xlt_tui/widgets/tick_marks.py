"""Checkbox and SelectionList whose ticked state reads without colour.

Textual 8.2.8 draws the same "X" in a ticked and an unticked box and tells
them apart by colour only, so with NO_COLOR=1 (or a monochrome terminal, or a
colour-blind reader on a low-contrast theme) every box looks ticked. These
draw the mark only when the box is ticked and a blank otherwise: `▐X▌` vs
`▐ ▌`, as a paper checklist does. "X" rather than "✓": it is one cell wide
in every terminal font (some draw "✓" as two cells or not at all).
"""

from __future__ import annotations

from rich.segment import Segment
from textual.content import Content
from textual.strip import Strip
from textual.widgets import Checkbox, SelectionList
from textual.widgets.option_list import OptionDoesNotExist

TICKED = "X"
UNTICKED = " "


def tick_mark(ticked: bool) -> str:
    return TICKED if ticked else UNTICKED


class TickCheckbox(Checkbox):
    """A Checkbox drawing "X" when ticked and a blank when not."""

    @property
    def _button(self) -> Content:
        # Textual draws BUTTON_INNER in the button's face: an instance value
        # that follows the state is all it takes.
        self.BUTTON_INNER = tick_mark(self.value)
        return super()._button


class TickSelectionList(SelectionList):
    """A SelectionList drawing "X" beside ticked options, a blank beside the
    others."""

    def render_line(self, y: int) -> Strip:
        line = super().render_line(y)
        _, scroll_y = self.scroll_offset
        try:
            option = self.get_option_at_index(scroll_y + y)
        except OptionDoesNotExist:
            return line
        segments = list(line)
        # SelectionList puts the toggle button's LEFT, INNER ("X"), RIGHT first.
        if len(segments) < 2 or segments[1].text != Checkbox.BUTTON_INNER:
            return line
        inner = segments[1]
        ticked = option.value in self._selected
        segments[1] = Segment(tick_mark(ticked), inner.style, inner.control)
        return Strip(segments, line.cell_length)
