"""The Runs list at 80x24, 120x40 and without colour, compared with stored SVG
snapshots: a live run with its progress and ETA (the clock pinned), and the
list filtered and sorted. After an intended change, look at the report, then
`pytest tests/tui/test_snapshots_runs.py --snapshot-update`."""

from __future__ import annotations

import os
import types

import pytest

from engine.control import process_start_time
from engine.store import Store
from tests.tui.conftest import T0, parallel_run_events, run_record, write_events
from tests.tui.test_snapshots import make_app, no_gpu, settle
from xlt_tui.screens import runs

__all__ = ["no_gpu"]  # the autouse fixture, used here by import

LIVE = "20261126-100000-demo-par1"
CASES = [
    pytest.param((80, 24), False, id="80x24"),
    pytest.param((120, 40), False, id="120x40"),
    pytest.param((80, 24), True, id="80x24-no-color"),
]


def app_with_a_live_run(tmp_path, monkeypatch, no_color: bool):
    """The fixture workspace plus a run with two stages side by side, 75 s
    after its start (the same events and clock as the Monitor's snapshot)."""
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")  # read in App.__init__
    monkeypatch.setattr(runs, "time", types.SimpleNamespace(time=lambda: T0 + 75))
    app = make_app(tmp_path, "runs")
    record = run_record(LIVE, "running", T0, 0, ended_at=None, stages_total=4)
    record.update(
        pid=os.getpid(),
        pid_start=process_start_time(os.getpid()),
        stages_done=1,
        stages_running=2,
    )
    Store(app.client.workspace.store_path).create_run(record)
    write_events(app.client.workspace, LIVE, parallel_run_events(LIVE))
    return app


@pytest.mark.parametrize(("size", "no_color"), CASES)
def test_runs_list_with_a_live_run(snap_compare, tmp_path, monkeypatch, size, no_color):
    async def before(pilot):
        await settle(pilot)

    app = app_with_a_live_run(tmp_path, monkeypatch, no_color)
    assert snap_compare(app, terminal_size=size, run_before=before)


@pytest.mark.parametrize(("size", "no_color"), CASES)
def test_runs_list_filtered_and_sorted_by_duration(
    snap_compare, tmp_path, monkeypatch, size, no_color
):
    """`/status:ended`, then s (the column after "started": duration,
    longest first) and S (reversed: shortest first)."""

    async def before(pilot):
        await settle(pilot, 0.3)
        await pilot.press("slash", *"status:ended", "enter")
        await pilot.press("s", "S")
        await settle(pilot, 0.3)

    app = app_with_a_live_run(tmp_path, monkeypatch, no_color)
    assert snap_compare(app, terminal_size=size, run_before=before)
