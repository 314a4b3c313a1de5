"""The Monitor's log in its states (issue 15): searching (highlights, the
"2/4" count), and unwrapped with the cursor on a line; at 80x24, 120x40 and
without colour (NO_COLOR). After an intended change, look at the report, then
`pytest tests/tui/test_snapshots_log.py --snapshot-update`."""

from __future__ import annotations

import pytest

from engine.workspace import Workspace
from tests.tui.test_snapshots import (  # noqa: F401 - no_gpu: a fixture
    FINISHED,
    make_app,
    no_gpu,
    settle,
)

pytestmark = pytest.mark.usefixtures("no_gpu")

CASES = [
    pytest.param((80, 24), False, id="80x24"),
    pytest.param((120, 40), False, id="120x40"),
    pytest.param((80, 24), True, id="80x24-no-colour"),
]

ENGINE_LOG = [
    "2026-11-26 08:00:01,000 INFO xlt.engine: loaded model xlt-tiny",
    "2026-11-26 08:00:02,000 WARNING xlt.data: languages without a validation "
    "split, scored on test only: de, es, ru, zh, ar; model selection uses the "
    "English validation split (Phang et al. 2020, section 3)",
    "2026-11-26 08:00:03,000 INFO xlt.engine: stage 1/2 intermediate demo-topic",
    "2026-11-26 08:00:20,000 INFO xlt.engine: stage 2/2 target demo-xqa",
]


def open_log(tmp_path, monkeypatch, no_colour: bool):
    if no_colour:
        monkeypatch.setenv("NO_COLOR", "1")  # read in App.__init__
    app = make_app(tmp_path, "runs")
    log = Workspace.open(tmp_path / "ws").run_log(FINISHED)
    log.write_text("".join(f"{line}\n" for line in ENGINE_LOG))
    return app


async def open_monitor(pilot) -> None:
    await settle(pilot, 0.3)
    pilot.app.open_monitor(FINISHED)
    await pilot.pause(1.0)


@pytest.mark.parametrize(("size", "no_colour"), CASES)
def test_log_search_with_a_match_chosen(
    snap_compare, tmp_path, monkeypatch, size, no_colour
):
    async def before(pilot):
        await open_monitor(pilot)
        await pilot.press("slash", *"stage", "enter", "n")
        await pilot.pause(0.3)

    app = open_log(tmp_path, monkeypatch, no_colour)
    assert snap_compare(app, terminal_size=size, run_before=before)


@pytest.mark.parametrize(("size", "no_colour"), CASES)
def test_log_unwrapped_with_the_cursor_on_a_line(
    snap_compare, tmp_path, monkeypatch, size, no_colour
):
    async def before(pilot):
        await open_monitor(pilot)
        pilot.app.screen.query_one("#log").focus()
        await pilot.press("w", "up", "up")
        await pilot.pause(0.5)
        pilot.app.clear_notifications()  # the "wrap" notice: timing, not state
        await pilot.pause(0.3)

    app = open_log(tmp_path, monkeypatch, no_colour)
    assert snap_compare(app, terminal_size=size, run_before=before)
