"""Waiting on a live app without sleeping longer than needed."""

from __future__ import annotations

import time
from collections.abc import Callable


async def wait_until(
    pilot, condition: Callable[[], bool], timeout: float = 10.0, describe=None
):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(
        f"condition not met within {timeout} s: {describe() if describe else ''}"
    )


def table_text(table) -> list[list[str]]:
    """A DataTable's rows, in display order, as plain strings."""
    return [
        [str(getattr(c, "plain", c)) for c in table.get_row_at(i)]
        for i in range(table.row_count)
    ]


def screen_text(app) -> str:
    """What the terminal shows, line by line, as plain text (read from the
    app's SVG screenshot, the same picture the snapshot tests store)."""
    return svg_text(app.export_screenshot())


def svg_text(svg: str) -> str:
    """Each <text> run placed at its column (Textual's SVG puts a cell every
    12.2 px), so gaps between runs read as spaces."""
    import html
    import re

    cell = 12.2
    rows: dict[float, list[str]] = {}
    for x, y, body in re.findall(
        r'<text class="terminal-[^"]*"[^>]*?\bx="([\d.]+)"[^>]*?\by="([\d.]+)"'
        r"[^>]*>(.*?)</text>",
        svg,
    ):
        line = rows.setdefault(float(y), [])
        start = round(float(x) / cell)
        for offset, char in enumerate(html.unescape(body).replace("\xa0", " ")):
            column = start + offset
            line.extend(" " * (column + 1 - len(line)))
            line[column] = char
    return "\n".join("".join(rows[y]).rstrip() for y in sorted(rows))
