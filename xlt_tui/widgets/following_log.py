"""The Monitor's log: follows its tail, folds long lines, finds text, and
has a cursor line to copy.

Following is the user's choice: scrolling up (or jumping to a search match)
stops it, scrolling back to the bottom (`end`) resumes it. Textual's Log only
follows while `scroll_y` sits at the end when lines are written, so when the
log got shorter (the scores table appearing above it) it stopped for good.

A subclass of Textual's Log (the same `lines`, `max_lines`, `write_lines`),
with its own rendering: Log maps one line to one screen row, and has neither
wrapping nor a cursor. Here the rows are an index of (line, start) pairs,
extended as lines arrive and cut at the front as old lines are dropped, so a
write costs the new lines only, and memory stays bounded by `max_lines`.
Line and row numbers are absolute (counted since the last `clear`), so the
search matches and the cursor need no renumbering when the front is cut.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.strip import Strip
from textual.widgets import Log

from xlt_tui.widgets.log_lines import (
    clean_line,
    find_all,
    fold,
    line_width,
    search_pattern,
)


class FollowingLog(Log):
    """A log that follows its tail, wraps, searches and has a cursor line."""

    ALLOW_SELECT = False  # a line is chosen with the cursor and copied whole

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Line up", show=False),
        Binding("down", "cursor_down", "Line down", show=False),
    ]

    COMPONENT_CLASSES = {
        "following-log--cursor",
        "following-log--match",
        "following-log--current-match",
    }

    DEFAULT_CSS = """
    FollowingLog > .following-log--cursor {
        background: $block-cursor-blurred-background;
    }
    FollowingLog:focus > .following-log--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
    }
    FollowingLog > .following-log--match {
        background: $warning-muted;
        text-style: bold;
    }
    FollowingLog > .following-log--current-match {
        background: $warning;
        color: $text;
        text-style: bold reverse;
    }
    """

    following = True

    def __init__(self, *args, wrap: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.wrap = wrap
        self._pruned = 0  # lines dropped from the front since the last clear
        self._rows_dropped = 0  # rows dropped from the front since the rebuild
        self._line_row: list[int] = []  # first (absolute) row of each line kept
        self._row_line: list[int] = []  # (absolute) line of each row kept
        self._row_start: list[int] = []  # where in its line each row starts
        self._fold_width = 0
        self._max_width = 0
        self.cursor_line: int | None = None  # absolute line number
        self._pattern: re.Pattern[str] | None = None
        self._matches: list[tuple[int, int]] = []  # (absolute line, start)
        self._current: int | None = None  # index into _matches
        self._search_version = 0
        self._strips: LRUCache[tuple, Strip] = LRUCache(1024)

    @property
    def allow_select(self) -> bool:
        return False

    # -- following --------------------------------------------------------
    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if new_value < old_value and new_value < self.max_scroll_y:
            self.following = False  # the user scrolled up to read
        elif new_value >= self.max_scroll_y:
            self.following = True  # back at the bottom: follow again

    def follow(self) -> None:
        """Back to the tail, following again (also when already there)."""
        self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.following = True

    def action_scroll_end(self) -> None:
        self.follow()

    # -- lines in ---------------------------------------------------------
    def write(self, data: str, scroll_end: bool | None = None):
        """Whole lines only (the Monitor writes nothing else)."""
        return self.write_lines(data.splitlines(), scroll_end)

    def write_lines(self, lines: Iterable[str], scroll_end: bool | None = None):
        follow = self.following if scroll_end is None else scroll_end
        new = [clean_line(part) for line in lines for part in line.splitlines()]
        if not new:
            return self
        at_last = self.cursor_line is not None and self.cursor_line == self._last
        first = self._pruned + len(self._lines)
        self._lines.extend(new)
        for number, line in enumerate(new, start=first):
            self._add_rows(number, line)
            self._max_width = max(self._max_width, line_width(line))
            if self._pattern is not None:
                self._matches.extend(
                    (number, start) for start, _ in find_all(self._pattern, line)
                )
        if at_last and follow:
            self.cursor_line = self._last  # a cursor on the tail stays there
        dropped_rows = self._prune()
        self._resize_virtual()
        if follow:
            # After the refresh: the end of the lines just written.
            self.scroll_end(animate=False, x_axis=False)
        elif dropped_rows:
            # The lines above the reader went away: keep their view still.
            self.scroll_to(y=max(0, self.scroll_y - dropped_rows), animate=False)
        self.refresh()
        return self

    def clear(self):
        super().clear()
        self.following = True
        self._pruned = self._rows_dropped = self._max_width = 0
        self._line_row, self._row_line, self._row_start = [], [], []
        self.cursor_line, self._matches, self._current = None, [], None
        self._strips.clear()
        return self

    def _add_rows(self, number: int, line: str) -> None:
        starts = fold(line, self._fold_width) if self.wrap else [0]
        self._line_row.append(self._rows_dropped + len(self._row_line))
        self._row_line.extend([number] * len(starts))
        self._row_start.extend(starts)

    def _prune(self) -> int:
        """Drop the oldest lines past `max_lines`; the rows they had."""
        extra = len(self._lines) - (self.max_lines or len(self._lines))
        if extra <= 0:
            return 0
        rows = self._line_row[extra] - self._rows_dropped
        del self._lines[:extra], self._line_row[:extra]
        del self._row_line[:rows], self._row_start[:rows]
        self._pruned += extra
        self._rows_dropped += rows
        if self.cursor_line is not None and self.cursor_line < self._pruned:
            self.cursor_line = self._pruned
        gone = bisect.bisect_left(self._matches, (self._pruned, -1))
        if gone:
            del self._matches[:gone]
            if self._current is not None:
                self._current = self._current - gone if self._current >= gone else None
        return rows

    def _rebuild_rows(self) -> None:
        """Fold every line again (wrap toggled, or a new width)."""
        top = self._line_at_row(int(self.scroll_y))
        self._rows_dropped = 0
        self._line_row, self._row_line, self._row_start = [], [], []
        for number, line in enumerate(self._lines, start=self._pruned):
            self._add_rows(number, line)
        self._strips.clear()
        self._resize_virtual()
        if self.following:
            self._end_after_layout()
        elif top is not None:
            self.scroll_to(y=self._first_row(top), animate=False, immediate=True)
        self.refresh()

    def _end_after_layout(self) -> None:
        """Scroll to the end once the layout has settled: a horizontal
        scrollbar that comes or goes with wrapping moves the end by a row."""

        def to_end() -> None:
            if self.following:
                self.scroll_end(animate=False, immediate=True, x_axis=False)

        self.call_after_refresh(to_end)

    def _resize_virtual(self) -> None:
        width = self._fold_width if self.wrap else self._max_width
        self.virtual_size = Size(width, len(self._row_line))

    def on_resize(self, event: events.Resize) -> None:
        width = self.scrollable_content_region.width
        if width != self._fold_width:
            self._fold_width = width
            if self.wrap:
                self._rebuild_rows()
        elif self.following:
            self._end_after_layout()  # shorter or taller: keep the tail in view

    # -- wrapping ---------------------------------------------------------
    def set_wrap(self, wrap: bool) -> None:
        if wrap != self.wrap:
            self.wrap = wrap
            self.set_class(not wrap, "-nowrap")
            self.scroll_to(x=0, animate=False, immediate=True)
            self._rebuild_rows()

    @property
    def line_count(self) -> int:
        return len(self._lines)  # Log's own guesses at an unfinished last line

    @property
    def row_count(self) -> int:
        """Screen rows the lines take (more than lines where they wrap)."""
        return len(self._row_line)

    # -- the cursor and copying -------------------------------------------
    @property
    def _last(self) -> int | None:
        return self._pruned + len(self._lines) - 1 if self._lines else None

    @property
    def cursor_text(self) -> str | None:
        """The line under the cursor, as shown; until one is chosen, the
        last line (the cursor sits on the tail). None: the log is empty."""
        line = self.cursor_line if self.cursor_line is not None else self._last
        return None if line is None else self._lines[line - self._pruned]

    def _first_row(self, line: int) -> int:
        return self._line_row[line - self._pruned] - self._rows_dropped

    def _line_at_row(self, row: int) -> int | None:
        if not self._row_line:
            return None
        return self._row_line[min(max(row, 0), len(self._row_line) - 1)]

    def _bottom_line(self) -> int | None:
        return self._line_at_row(int(self.scroll_y) + self.scrollable_size.height - 1)

    def move_cursor(self, line: int) -> None:
        """Put the cursor on `line` (absolute) and scroll it into view."""
        if not self._lines:
            return
        line = min(max(line, self._pruned), self._last or 0)
        self.cursor_line = line
        first = self._first_row(line)
        rows = (
            self._first_row(line + 1) if line < (self._last or 0) else self.row_count
        ) - first
        height = self.scrollable_size.height
        if first < self.scroll_y:
            self.scroll_to(y=first, animate=False, immediate=True)
        elif first + rows > self.scroll_y + height:
            y = first + min(rows, height) - height
            self.scroll_to(y=y, animate=False, immediate=True)
        self.refresh()

    def _start_cursor(self) -> int | None:
        if self.cursor_line is None:
            self.cursor_line = self._last if self.following else self._bottom_line()
        return self.cursor_line

    def action_cursor_up(self) -> None:
        if (line := self._start_cursor()) is not None:
            self.move_cursor(line - 1)

    def action_cursor_down(self) -> None:
        if (line := self._start_cursor()) is not None:
            self.move_cursor(line + 1)

    def on_focus(self) -> None:
        self.refresh()  # the cursor shows while the log has the focus

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        line = self._line_at_row(int(self.scroll_y) + offset.y)
        if line is not None and int(self.scroll_y) + offset.y < self.row_count:
            self.move_cursor(line)

    # -- search -----------------------------------------------------------
    def search(self, query: str) -> None:
        """Highlight every match of `query` (smart case); none for ""."""
        self._pattern = search_pattern(query)
        self._matches, self._current = [], None
        self._search_version += 1
        if self._pattern is not None:
            for number, line in enumerate(self._lines, start=self._pruned):
                self._matches.extend(
                    (number, start) for start, _ in find_all(self._pattern, line)
                )
        self._strips.clear()
        self.refresh()

    @property
    def match_count(self) -> int:
        return len(self._matches)

    @property
    def match_position(self) -> int | None:
        """1-based number of the match jumped to last (None: none yet)."""
        return None if self._current is None else self._current + 1

    def jump_to_match(self, forward: bool = True) -> bool:
        """Go to the next (or previous) match after the last one, else after
        the cursor, else after the top of the view; round the ends. Following
        pauses there. False when nothing matches."""
        if not self._matches:
            return False
        if self._current is not None:
            here = self._matches[self._current]
        elif self.cursor_line is not None:
            here = (self.cursor_line, -1 if forward else 1 << 30)
        else:
            top = self._line_at_row(int(self.scroll_y)) or 0
            here = (top, -1 if forward else 1 << 30)
        if forward:
            index = bisect.bisect_right(self._matches, here) % len(self._matches)
        else:
            index = (bisect.bisect_left(self._matches, here) - 1) % len(self._matches)
        self._current = index
        line, start = self._matches[index]
        self.cursor_line = line
        row = self._first_row(line) + self._row_offset(line, start)
        height = self.scrollable_size.height
        self.scroll_to(y=max(0, row - height // 2), animate=False, immediate=True)
        self.following = False  # reading a match: the tail must not pull away
        self._strips.clear()
        self.refresh()
        return True

    def _row_offset(self, line: int, start: int) -> int:
        """Which of `line`'s rows holds character `start`."""
        first = self._first_row(line)
        end = self._first_row(line + 1) if line < (self._last or 0) else self.row_count
        return max(
            0, bisect.bisect_right(self._row_start, start, first, end) - 1 - first
        )

    # -- drawing ----------------------------------------------------------
    def notify_style_update(self) -> None:
        super().notify_style_update()
        if hasattr(self, "_strips"):  # also called while Log sets itself up
            self._strips.clear()

    def on_blur(self) -> None:
        self.refresh()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row, width = scroll_y + y, self.size.width
        style = self.rich_style
        if row >= len(self._row_line):
            return Strip.blank(width, style)
        line = self._row_line[row]
        cursor = line == self.cursor_line or (
            self.cursor_line is None and self.has_focus and line == self._last
        )
        fill = style + self._component("cursor") if cursor else style
        strip = self._row_strip(row, cursor, style)
        return strip.crop_extend(scroll_x, scroll_x + width, fill)

    def _component(self, name: str) -> Style:
        return self.get_component_rich_style(f"following-log--{name}")

    def _row_strip(self, row: int, cursor: bool, style: Style) -> Strip:
        line = self._row_line[row]
        start = self._row_start[row]
        more = row + 1 < len(self._row_line) and self._row_line[row + 1] == line
        text = self._lines[line - self._pruned]
        end = self._row_start[row + 1] if more else len(text)
        current = self._matches[self._current] if self._current is not None else None
        on_line = current if current is not None and current[0] == line else None
        key = (line, start, end, cursor, self.has_focus, on_line, self._search_version)
        cached = self._strips.get(key)
        if cached is not None:
            return cached
        piece = Text(text[start:end], style=style, no_wrap=True, end="")
        if cursor:
            piece.stylize(self._component("cursor"))
        if self._pattern is not None:
            for m_start, m_end in find_all(self._pattern, text):
                if m_end <= start or m_start >= end:
                    continue
                name = "current-match" if on_line == (line, m_start) else "match"
                piece.stylize(
                    self._component(name),
                    max(m_start, start) - start,
                    min(m_end, end) - start,
                )
        # Rich leaves a null style out (style None), which NO_COLOR's
        # monochrome filter cannot read: give every segment one.
        segments = [
            Segment(s.text, s.style or style)
            for s in piece.render(self.app.console)
            if s.text
        ]
        strip = Strip(segments, piece.cell_len)
        self._strips[key] = strip
        return strip
