"""The Results screen's states at 80x24, 120x40 and without colour (issue 15):
the heatmap (the run selector shows the whole run id at 80 columns) and the
significance settings dialog. After an intended change, look at the report,
then `pytest tests/tui/test_snapshots_results.py --snapshot-update`."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from tests.tui.helpers import wait_until
from tests.tui.test_results import results_screen
from tests.tui.test_snapshots import FINISHED, make_app, no_gpu, settle

# (columns, lines, NO_COLOR): Textual reads NO_COLOR when the app is built.
CASES = [(80, 24, False), (120, 40, False), (80, 24, True)]
IDS = ["80x24", "120x40", "80x24-no-color"]

__all__ = ["no_gpu"]  # the autouse fixture, imported so it applies here too


def results_app(tmp_path, monkeypatch, no_color: bool):
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    else:
        monkeypatch.delenv("NO_COLOR", raising=False)
    return make_app(tmp_path, "results")


async def open_finished_run(pilot) -> None:
    await settle(pilot, 0.3)
    pilot.app.open_results(FINISHED)
    await settle(pilot)
    # The significance worker may start after settle looked: wait for its
    # answer, or the legend says "computing intervals…" on a busy machine.
    screen = results_screen(pilot.app)
    await wait_until(
        pilot, lambda: screen.view is not None and screen.view.significance is not None
    )
    await pilot.pause(0.1)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_results_heatmap(snap_compare, tmp_path, monkeypatch, case):
    columns, lines, no_color = case

    async def before(pilot):
        await open_finished_run(pilot)
        await pilot.press("right")
        await pilot.pause(0.3)

    app = results_app(tmp_path, monkeypatch, no_color)
    assert snap_compare(app, terminal_size=(columns, lines), run_before=before)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_results_significance_settings(snap_compare, tmp_path, monkeypatch, case):
    columns, lines, no_color = case

    async def before(pilot):
        await open_finished_run(pilot)
        await pilot.press("i")
        await pilot.pause(0.1)
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False  # a blinking cursor: a flaky picture
        await pilot.pause(0.2)

    app = results_app(tmp_path, monkeypatch, no_color)
    assert snap_compare(app, terminal_size=(columns, lines), run_before=before)
