"""The newcomer's path, for real: launch the demo from the Launch screen, watch
events arrive in the Monitor, quit the TUI mid-run, start it again, find the
run still going, and browse its heatmap when it finishes."""

from __future__ import annotations

import os

import pytest
from textual.widgets import Input

from engine.control import process_alive
from engine.store import Store
from engine.workspace import Workspace
from tests.tui.conftest import DEMO_CONFIG
from tests.tui.helpers import table_text, wait_until
from xlt_tui.app import XltApp

STEPS = "30"  # per stage: the whole demo plan in about a minute on 2 cores


@pytest.mark.slow
async def test_launch_watch_quit_reopen_and_browse_the_heatmap(tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    app = XltApp(ws, config_file=DEMO_CONFIG, poll_seconds=0.25)
    async with app.run_test(size=(120, 40)) as pilot:
        check = app.screen.query_one("#check")
        await wait_until(pilot, lambda: str(check.render()).startswith("ok"))
        for stage in ("intermediate", "target"):
            app.screen.query_one(f"#hp-{stage}-max_steps", Input).value = STEPS
        await pilot.pause(0.5)
        await wait_until(pilot, lambda: str(check.render()).startswith("ok"))
        await pilot.press("ctrl+l")  # launches once the engine's dry run passes
        await wait_until(
            pilot, lambda: type(app.screen).__name__ == "MonitorScreen", timeout=60
        )
        monitor = app.screen
        await wait_until(pilot, lambda: monitor.state.steps_seen > 0, timeout=180)
        run_id = monitor.run_id
        assert monitor.status == "running"

    # The TUI has quit; the engine, in its own session, goes on.
    record = Store(ws.store_path).get_run(run_id)
    assert record["status"] == "running"
    assert process_alive(record["pid"], record["pid_start"])
    assert os.getsid(record["pid"]) != os.getsid(0)

    app = XltApp(ws, poll_seconds=0.25)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one("#runs-table")
        await wait_until(pilot, lambda: table.row_count == 1)
        assert table_text(table)[0][:3] == [run_id, "demo", "running"]
        await pilot.press("enter")
        monitor = app.screen
        assert monitor.run_id == run_id
        # The whole history first: the first stage's steps are there at once.
        await wait_until(pilot, lambda: monitor.state.stages_done >= 1, timeout=30)
        await wait_until(pilot, lambda: monitor.status == "finished", timeout=600)
        await wait_until(pilot, lambda: len(monitor.state.scores) == 6)

        await pilot.press("v")
        screen = app.screen
        assert type(screen).__name__ == "ResultsScreen"
        await wait_until(pilot, lambda: screen.view is not None, timeout=30)
        assert screen.view.rows == ["baseline", "demo-topic", "demo-trivia-qa"]
        assert screen.view.columns == ["en", "de", "es", "ru", "zh", "ar", "avg"]
        heatmap = screen.query_one("#results-heatmap")
        assert heatmap.row_count == 3
