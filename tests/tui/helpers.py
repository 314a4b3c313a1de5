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
