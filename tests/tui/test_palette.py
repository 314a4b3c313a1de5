"""The command palette (ctrl+p) offers xlt's own commands, one per run where
they act on a run, and each does what the screen's key does."""

from __future__ import annotations

import pytest
from textual.command import CommandList, CommandPalette

from tests.tui.conftest import T0, build_workspace, run_record
from tests.tui.helpers import wait_until
from xlt_tui.app import XltApp
from xlt_tui.screens.confirm import ConfirmScreen
from xlt_tui.screens.export_dialog import ExportDialog
from xlt_tui.screens.monitor import MonitorScreen
from xlt_tui.screens.results import ResultsScreen
from xlt_tui.screens.runs import RunsScreen

FINISHED = "20261126-080000-demo-a1b2"
RUNNING = "20261126-100000-demo-7a8b"


@pytest.fixture
def app(tmp_path) -> XltApp:
    ws = build_workspace(tmp_path / "ws")
    from engine.store import Store

    # Another machine's live run: its process cannot be checked from here, so
    # it stays "running" (a local pid would read as interrupted).
    Store(ws.store_path).create_run(
        run_record(RUNNING, "running", T0 + 7200, 60, host="gpu-box")
    )
    return XltApp(ws, poll_seconds=1.0)  # fast polls slow the typing down


def option_texts(pilot) -> list[str]:
    command_list = pilot.app.screen.query_one(CommandList)
    return [
        str(command_list.get_option_at_index(i).hit.text)
        for i in range(command_list.option_count)
    ]


async def palette_options(pilot, query: str) -> list[str]:
    await pilot.press("ctrl+p")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, CommandPalette))
    await pilot.press(*query)
    await wait_until(pilot, lambda: option_texts(pilot) != [])
    await pilot.pause(0.3)  # every provider has answered
    return option_texts(pilot)


async def pick(pilot, query: str, wanted: str) -> None:
    """Type `query` in the palette and run the command named `wanted`."""
    texts = await palette_options(pilot, query)
    assert wanted in texts, texts
    pilot.app.screen.query_one(CommandList).highlighted = texts.index(wanted)
    await pilot.press("enter")


async def test_cancel_is_offered_for_live_runs_and_asks_first(app):
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        texts = await palette_options(pilot, "cancel run")
        cancels = [t for t in texts if t.startswith("Cancel run")]
        # Only the running one: finished, failed and cancelled runs have
        # nothing to stop.
        assert cancels == [f"Cancel run {RUNNING} demo (running)"]
        await pilot.press("escape")
        await pick(pilot, "cancel", cancels[0])
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        question = str(app.screen.query_one("#question").render())
        assert f"Cancel run {RUNNING}?" in question
        await pilot.press("n")  # nothing is cancelled
        await wait_until(pilot, lambda: isinstance(app.screen, RunsScreen))
        assert app.client.run(RUNNING)["status"] == "running"


async def test_open_run_shows_that_runs_monitor(app):
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        await pick(pilot, "open run 0800", f"Open run {FINISHED} demo (finished)")
        await wait_until(pilot, lambda: isinstance(app.screen, MonitorScreen))
        assert app.screen.run_id == FINISHED


async def test_results_of_run_shows_its_results(app):
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        await pick(
            pilot, "results of run 0800", f"Results of run {FINISHED} demo (finished)"
        )
        await wait_until(pilot, lambda: isinstance(app.screen, ResultsScreen))
        screen = app.screen
        await wait_until(
            pilot, lambda: screen.view is not None and not screen.view.empty
        )
        assert screen.state.run_id == FINISHED


async def test_export_from_the_runs_screen_opens_the_export_dialog(app):
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        # The Results screen has not read anything yet: the command waits.
        await pick(pilot, "export", "Export results")
        await wait_until(pilot, lambda: isinstance(app.screen, ExportDialog))


async def test_open_config_loads_it_into_the_launch_form(app):
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        await pick(pilot, "open config demo", "Open config sample: demo.toml")
        from xlt_tui.screens.launch import LaunchScreen

        await wait_until(pilot, lambda: isinstance(app.screen, LaunchScreen))
        await wait_until(pilot, lambda: app.screen.query_one("#name").value == "demo")
