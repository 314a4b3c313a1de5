"""App-wide keys: the mode keys show the mode's own screen, `q` asks before
losing Launch edits, and the keyboard cannot launch by accident."""

from __future__ import annotations

from textual.widgets import Input

from engine.workspace import Workspace
from tests.tui.conftest import DEMO_CONFIG
from tests.tui.helpers import wait_until
from xlt_tui.app import XltApp
from xlt_tui.screens.confirm import ConfirmScreen


def screen_name(app) -> str:
    return type(app.screen).__name__


async def test_mode_keys_show_the_modes_screen_not_an_old_monitor(tui_workspace):
    app = XltApp(tui_workspace, poll_seconds=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one("#runs-table")
        await wait_until(pilot, lambda: table.row_count == 3)
        await pilot.press("enter")  # the monitor of the newest run
        await wait_until(pilot, lambda: screen_name(app) == "MonitorScreen")
        await pilot.press("2")
        await wait_until(pilot, lambda: screen_name(app) == "LaunchScreen")
        await pilot.press("1")
        await pilot.pause(0.2)
        assert screen_name(app) == "RunsScreen"


async def test_q_asks_before_losing_unsaved_launch_edits(tmp_path):
    app = XltApp(Workspace.open(tmp_path / "ws"), config_file=DEMO_CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        app.screen.query_one("#hp-target-max_steps", Input).value = "7"
        await pilot.pause(0.1)
        app.set_focus(None)  # `q` in a text field is a letter
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause(0.1)
        assert app.is_running and screen_name(app) == "LaunchScreen"
        await pilot.press("q", "y")
        await pilot.pause(0.2)
        assert not app.is_running


async def test_q_quits_at_once_without_edits(tmp_path):
    app = XltApp(Workspace.open(tmp_path / "ws"), config_file=DEMO_CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        app.set_focus(None)
        await pilot.press("q")
        await pilot.pause(0.2)
        assert not app.is_running


async def test_shift_tab_from_the_top_then_enter_does_not_launch(tmp_path, monkeypatch):
    app = XltApp(Workspace.open(tmp_path / "ws"), config_file=DEMO_CONFIG)
    launched = []
    monkeypatch.setattr(app.client, "launch", lambda *a: launched.append(a))
    async with app.run_test(size=(80, 24)) as pilot:
        check = app.screen.query_one("#check")
        # The engine's verdict is in: a press of Launch would launch at once.
        await wait_until(
            pilot,
            lambda: app.screen._verdict[0] == app.screen._check_generation,
            timeout=60,
        )
        assert str(check.render()).startswith("ok")
        app.screen.focus_chain[0].focus()  # the top of the form
        await pilot.pause()
        await pilot.press("shift+tab")
        assert getattr(app.focused, "id", None) != "launch"
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert launched == []
        assert screen_name(app) != "MonitorScreen"
