"""The Monitor's log: search (/, enter, n, N, the "3/17" count, escape),
wrapping long lines (w), following (G), and copying the cursor line (y,
ctrl+c, a click) into the clipboard. Fed through the real tailer: a run's
events.jsonl and engine.log written in the workspace."""

from __future__ import annotations

import time

import pytest
from rich.style import Style
from textual.app import App, ComposeResult

from tests.tui.test_monitor import (
    RUN_ID,
    MonitorTestApp,
    make_run,
    monitor,
    start_events,
    wait_for,
)
from xlt_tui.widgets.following_log import FollowingLog
from xlt_tui.widgets.log_lines import fold, search_pattern
from xlt_tui.widgets.log_search_bar import LogSearchBar

LONG_TAIL = "END-OF-THE-LONG-LINE"
LONG = (
    "2026-11-26 09:17:06,001 WARNING xlt.data: languages without a validation "
    "split, scored on test only: "
    + ", ".join(f"lang{i:02d}" for i in range(40))
    + f" {LONG_TAIL}"
)


def engine_log(n: int = 40) -> list[str]:
    """n lines, every 10th an ERROR (lines 5, 15, 25, ...)."""
    lines = []
    for i in range(n):
        level = "ERROR" if i % 10 == 5 else "INFO"
        lines.append(f"2026-11-26 09:17:{i:02d},000 {level} xlt.engine: message {i}")
    return lines


@pytest.fixture
def ws(tmp_path):
    from engine.workspace import Workspace

    return Workspace.open(tmp_path / "ws")


def open_run(ws, lines: list[str]) -> MonitorTestApp:
    make_run(ws)
    start_events(ws).close()
    ws.run_log(RUN_ID).write_text("".join(f"{line}\n" for line in lines))
    return MonitorTestApp(ws, RUN_ID)


def the_log(app) -> FollowingLog:
    return monitor(app).query_one("#log", FollowingLog)


def count_text(app) -> str:
    return str(monitor(app).query_one("#log-search-count").content)


def visible_lines(log: FollowingLog) -> set[int]:
    top = int(log.scroll_y)
    rows = range(top, min(top + log.scrollable_size.height, log.row_count))
    return {log._row_line[row] - log._pruned for row in rows}


def styled_texts(log: FollowingLog, line_index: int, style: Style) -> list[str]:
    """The text drawn with `style`'s background on the rows of one line."""
    found = []
    top = int(log.scroll_y)
    for y in range(log.scrollable_size.height):
        row = top + y
        if row < log.row_count and log._row_line[row] - log._pruned == line_index:
            for segment in log.render_line(y):
                if segment.style and segment.style.bgcolor == style.bgcolor:
                    found.append(segment.text)
    return found


async def test_search_counts_highlights_jumps_and_closes(ws):
    app = open_run(ws, engine_log(40))
    async with app.run_test(size=(80, 24)) as pilot:
        log = the_log(app)
        await wait_for(pilot, lambda: len(log.lines) >= 40, what="the log")
        await pilot.pause(0.1)
        assert log.following and log.scroll_y == log.max_scroll_y

        await pilot.press("slash", *"error")
        await pilot.pause(0.05)
        assert count_text(app) == "4 matches"  # lines 5, 15, 25, 35
        assert log.following  # typing only highlights

        await pilot.press("enter")  # the first match below the top of the view
        await pilot.pause(0.05)
        position = log.match_position
        assert position is not None
        assert count_text(app) == f"{position}/4"
        assert log.cursor_text is not None and "ERROR" in log.cursor_text
        first = log.lines.index(log.cursor_text)
        assert first in visible_lines(log)  # scrolled there
        assert not log.following  # and stays while reading
        current = log.get_component_rich_style("following-log--current-match")
        assert styled_texts(log, first, current) == ["ERROR"]

        await pilot.press("n")
        await pilot.pause(0.05)
        assert count_text(app) == f"{position % 4 + 1}/4"
        second = log.lines.index(log.cursor_text)
        assert second != first and "ERROR" in log.lines[second]
        assert second in visible_lines(log)
        await pilot.press("N")
        await pilot.pause(0.05)
        assert count_text(app) == f"{position}/4"
        assert log.lines.index(log.cursor_text) == first

        # Lines keep coming: the view stays on the match, the count grows.
        top = log.scroll_y
        with open(ws.run_log(RUN_ID), "a") as fh:
            fh.write("09:18:00 ERROR xlt.engine: one more\n" * 3)
        await wait_for(pilot, lambda: count_text(app) == f"{position}/7")
        assert log.scroll_y == top

        # Capitals make the search case-sensitive (smart case).
        await pilot.click("#log-search-input")
        await pilot.press("end", "ctrl+u", *"Engine")  # n types, it does not jump
        await pilot.pause(0.05)
        assert monitor(app).query_one("#log-search-input").value == "Engine"
        assert count_text(app) == "no match"

        await pilot.press("escape")  # closes the search, not the screen
        await pilot.pause(0.05)
        assert not monitor(app).query_one("#log-search", LogSearchBar).shown
        assert log.match_count == 0
        assert app.screen is monitor(app)

        await pilot.press("G")  # follow the tail again
        await pilot.pause(0.05)
        assert log.following and log.scroll_y == log.max_scroll_y


async def test_wrap_folds_long_lines_to_the_width_and_w_toggles_it(ws):
    app = open_run(ws, [*engine_log(5), LONG, "after the long line"])
    async with app.run_test(size=(80, 24)) as pilot:
        log = the_log(app)
        await wait_for(pilot, lambda: len(log.lines) >= 7, what="the log")
        await pilot.pause(0.1)
        width = log.scrollable_content_region.width
        shown = "\n".join(
            "".join(s.text for s in log.render_line(y))
            for y in range(log.scrollable_size.height)
        )
        # Wrapped (the default): nothing is cut, no row is wider than the view.
        assert log.wrap and log.virtual_size.width == width
        assert log.row_count == len(log.lines) + (len(log.lines[-2]) - 1) // width
        assert LONG_TAIL in shown.replace("\n", "")
        assert log.max_scroll_x == 0

        await pilot.press("w")
        await pilot.pause(0.1)
        assert not log.wrap
        assert log.row_count == len(log.lines)  # a row a line
        assert log.virtual_size.width == len(log.lines[-2]) > width
        assert log.max_scroll_x > 0  # scrolls sideways instead
        shown = "".join(
            "".join(s.text for s in log.render_line(y))
            for y in range(log.scrollable_size.height)
        )
        assert LONG_TAIL not in shown

        await pilot.press("w")
        await pilot.pause(0.1)
        assert log.wrap and log.virtual_size.width == width
        assert log.scroll_y == log.max_scroll_y  # still following


async def test_cursor_line_is_copied_exactly_with_y_ctrl_c_and_a_click(ws):
    app = open_run(ws, engine_log(30))
    async with app.run_test(size=(80, 24)) as pilot:
        log = the_log(app)
        await wait_for(pilot, lambda: len(log.lines) >= 30, what="the log")
        log.focus()
        await pilot.pause(0.05)
        assert log.cursor_text == log.lines[-1]  # the cursor starts at the tail
        await pilot.press("up", "up")
        await pilot.press("y")
        await pilot.pause(0.05)
        assert app.clipboard == log.lines[-3]
        cursor = log.get_component_rich_style("following-log--cursor")
        drawn = styled_texts(log, len(log.lines) - 3, cursor)
        assert "".join(drawn).startswith(log.lines[-3])  # the cursor shows there
        assert app.clipboard == "09:17:27 INFO xlt.engine: message 27"
        assert any("copied" in n.message for n in app._notifications)

        # A click picks the line under the pointer (row 1: below the border).
        top = int(log.scroll_y)
        await pilot.click("#log", offset=(5, 2))
        await pilot.press("ctrl+c")
        await pilot.pause(0.05)
        assert app.clipboard == log.lines[log._row_line[top + 1] - log._pruned]
        assert app.screen is monitor(app)  # ctrl+c copied, did not quit


class LogApp(App):
    def compose(self) -> ComposeResult:
        yield FollowingLog(id="log", max_lines=2000)


async def test_many_lines_stay_bounded_and_searchable_while_following():
    """20,000 long lines in 50 writes, a search active: memory stays at the
    last 2,000 lines, the count and the row index stay exact, and it is
    fast enough for a log that gets thousands of lines a second."""
    app = LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(FollowingLog)
        log.search("needle")
        started = time.monotonic()
        for batch in range(50):
            log.write_lines(
                f"line {batch * 400 + i} "
                + ("needle " if i % 4 == 0 else "")
                + "x" * 150
                for i in range(400)
            )
            await pilot.pause(0)
        elapsed = time.monotonic() - started
        await pilot.pause(0.05)
        assert len(log.lines) == 2000 and log.lines[-1].startswith("line 19999 ")
        assert log.match_count == sum("needle" in line for line in log.lines) == 500
        assert log.row_count == sum(len(fold(line, 78)) for line in log.lines)
        assert log.scroll_y == log.max_scroll_y
        assert elapsed < 5.0, elapsed


def test_fold_never_splits_a_wide_character_and_smart_case():
    rows = fold("日本語のログ行です", 5)  # 2 cells each: 2 a row
    assert rows == [0, 2, 4, 6, 8]
    assert fold("", 10) == [0]
    assert fold("a" * 25, 10) == [0, 10, 20]
    pattern = search_pattern("error")
    assert pattern is not None and pattern.search("ERROR")
    pattern = search_pattern("Error")
    assert pattern is not None and not pattern.search("ERROR")
    assert search_pattern("") is None
