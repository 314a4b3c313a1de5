"""The Launch form's pickers and save dialog at 80x24, 120x40 and with
NO_COLOR (ticked boxes must read without colour). After an intended change,
look at the report, then `pytest tests/tui/test_snapshots_launch_ux.py
--snapshot-update`."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from tests.tui.test_snapshots import make_app, no_gpu, settle

__all__ = ["no_gpu"]  # the autouse fixture, imported to apply here too

# (terminal size, NO_COLOR set)
CASES = [((80, 24), False), ((120, 40), False), ((80, 24), True)]
IDS = ["80x24", "120x40", "80x24-no-color"]


def launch_app(tmp_path, monkeypatch, no_color: bool):
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")  # read by App.__init__
    else:
        monkeypatch.delenv("NO_COLOR", raising=False)
    return make_app(tmp_path, "launch")


@pytest.mark.parametrize(("size", "no_color"), CASES, ids=IDS)
def test_launch_form_with_the_demo_ticks_in_view(
    snap_compare, tmp_path, monkeypatch, size, no_color
):
    async def before(pilot):
        await settle(pilot)

    assert snap_compare(
        launch_app(tmp_path, monkeypatch, no_color),
        terminal_size=size,
        run_before=before,
    )


@pytest.mark.parametrize(("size", "no_color"), CASES, ids=IDS)
def test_launch_task_lists_filtered(
    snap_compare, tmp_path, monkeypatch, size, no_color
):
    """'qa' in both filters: the ticked demo tasks that do not match are
    hidden and counted as such in the titles."""

    async def before(pilot):
        await settle(pilot)
        pilot.app.screen.query_one("#intermediate-filter", Input).value = "qa"
        pilot.app.screen.query_one("#targets-filter", Input).value = "qa"
        await settle(pilot, 0.3)

    assert snap_compare(
        launch_app(tmp_path, monkeypatch, no_color),
        terminal_size=size,
        run_before=before,
    )


@pytest.mark.parametrize(("size", "no_color"), CASES, ids=IDS)
def test_launch_save_dialog(snap_compare, tmp_path, monkeypatch, size, no_color):
    async def before(pilot):
        await settle(pilot)
        await pilot.press("ctrl+s")
        await pilot.pause(0.2)
        # The default names the temporary workspace: pin it for the picture.
        path = pilot.app.screen.query_one("#save-path", Input)
        path.value = "~/.xlt/configs/demo.toml"
        path.cursor_position = len(path.value)
        path.cursor_blink = False  # a blinking cursor differs picture to picture
        await pilot.pause(0.2)

    assert snap_compare(
        launch_app(tmp_path, monkeypatch, no_color),
        terminal_size=size,
        run_before=before,
    )
