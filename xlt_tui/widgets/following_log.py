"""A Log that follows its tail unless the user scrolled up.

Textual's Log follows only while `scroll_y` is at the end when lines are
written. When the log gets shorter (the Monitor's scores table appears above
it) its end moves down while `scroll_y` stays, so it stopped following for
good: the newest lines only showed after scrolling. Here following is the
user's choice: scrolling up stops it, scrolling back to the bottom resumes it.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual.widgets import Log


class FollowingLog(Log):
    following = True

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if new_value < old_value and new_value < self.max_scroll_y:
            self.following = False  # the user scrolled up to read
        elif new_value >= self.max_scroll_y:
            self.following = True  # back at the bottom: follow again

    def write_lines(self, lines: Iterable[str], scroll_end: bool | None = None):
        follow = self.following if scroll_end is None else scroll_end
        super().write_lines(lines, scroll_end=False)
        if follow:
            # After the refresh: the end of the lines just written.
            self.scroll_end(animate=False, x_axis=False)
        return self

    def clear(self):
        self.following = True
        return super().clear()
