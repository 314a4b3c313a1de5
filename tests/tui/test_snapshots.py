"""Every screen at 80x24 and 120x40, compared with the stored SVG snapshots
(pytest-textual-snapshot). After an intended change of a screen, look at the
report, then `pytest tests/tui/test_snapshots.py --snapshot-update`."""

from __future__ import annotations

import pytest
from textual.worker import WorkerCancelled

from tests.tui.conftest import DEMO_CONFIG, build_workspace
from xlt_tui import gpu
from xlt_tui.app import XltApp

FINISHED = "20261126-080000-demo-a1b2"
SIZES = [(80, 24), (120, 40)]


@pytest.fixture(autouse=True)
def no_gpu(monkeypatch):
    """The GPU line reads the machine; snapshots must not."""

    def sample(self, pid=None):
        self.reason = "NVML not available"
        return None

    monkeypatch.setattr(gpu.GpuProbe, "sample", sample)
    # The Launch check's dry run resolves device "auto" in a child process:
    # the CPU everywhere, so its time estimate does not depend on the machine.
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")


def make_app(tmp_path, mode: str) -> XltApp:
    ws = build_workspace(tmp_path / "ws")
    app = XltApp(
        ws,
        config_file=DEMO_CONFIG if mode == "launch" else None,
        start_mode=mode,
        poll_seconds=0.1,
    )
    app.sub_title = "~/.xlt"  # not the temporary folder's name
    return app


async def settle(pilot, seconds: float = 0.6) -> None:
    await pilot.pause(seconds)
    # The screens poll in exclusive workers: a newer poll cancels an older one,
    # which is no failure here (wait_for_complete would raise WorkerCancelled
    # when that happens under load). Wait for each worker of this moment.
    for worker in list(pilot.app.workers):
        try:
            await worker.wait()
        except WorkerCancelled:
            pass
    await pilot.pause(0.2)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_runs_screen(snap_compare, tmp_path, size):
    async def before(pilot):
        await settle(pilot)

    assert snap_compare(
        make_app(tmp_path, "runs"), terminal_size=size, run_before=before
    )


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_launch_screen_with_the_demo_config(snap_compare, tmp_path, size):
    async def before(pilot):
        await settle(pilot)

    assert snap_compare(
        make_app(tmp_path, "launch"), terminal_size=size, run_before=before
    )


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_monitor_of_a_finished_run(snap_compare, tmp_path, size):
    async def before(pilot):
        await settle(pilot, 0.3)
        pilot.app.open_monitor(FINISHED)
        await pilot.pause(1.0)

    assert snap_compare(
        make_app(tmp_path, "runs"), terminal_size=size, run_before=before
    )


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_results_heatmap_in_delta_mode(snap_compare, tmp_path, size):
    async def before(pilot):
        await settle(pilot, 0.3)
        pilot.app.open_results(FINISHED)
        await settle(pilot)
        await pilot.press("d", "right")
        await pilot.pause(0.3)

    assert snap_compare(
        make_app(tmp_path, "results"), terminal_size=size, run_before=before
    )


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_help_screen(snap_compare, tmp_path, size):
    async def before(pilot):
        await settle(pilot, 0.3)
        await pilot.press("question_mark")
        await pilot.pause(0.3)

    assert snap_compare(
        make_app(tmp_path, "runs"), terminal_size=size, run_before=before
    )


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_monitor_of_two_stages_running_side_by_side(
    snap_compare, tmp_path, monkeypatch, size
):
    """Two target stages on cuda:0 and cuda:1: a row each, a GPU line each.
    The clock is pinned (ETAs and the elapsed time count from it)."""
    import os
    import types

    from engine.control import process_start_time
    from engine.store import Store
    from tests.tui.conftest import T0, parallel_run_events, run_record, write_events
    from xlt_tui.screens import monitor

    def sample(self, pid=None):
        self.reason = None
        return [
            gpu.GpuStats(i, "NVIDIA H100", 90 + i, (20 + i) * gpu.GIB, 80 * gpu.GIB)
            for i in range(3)
        ]

    monkeypatch.setattr(gpu.GpuProbe, "sample", sample)
    monkeypatch.setattr(monitor, "time", types.SimpleNamespace(time=lambda: T0 + 75))
    app = make_app(tmp_path, "runs")
    run_id = "20261126-100000-demo-par1"
    record = run_record(run_id, "running", T0, 0, ended_at=None, stages_total=4)
    record.update(pid=os.getpid(), pid_start=process_start_time(os.getpid()))
    Store(app.client.workspace.store_path).create_run(record)
    write_events(app.client.workspace, run_id, parallel_run_events(run_id))

    async def before(pilot):
        await settle(pilot, 0.3)
        pilot.app.open_monitor(run_id)
        await pilot.pause(1.0)

    assert snap_compare(app, terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_monitor_of_a_finished_run_without_colour(
    snap_compare, tmp_path, monkeypatch, size
):
    """NO_COLOR: the loss and learning-rate bars carry the values by shape,
    the lowest point included (issue 15 item 6)."""
    monkeypatch.setenv("NO_COLOR", "1")

    async def before(pilot):
        await settle(pilot, 0.3)
        pilot.app.open_monitor(FINISHED)
        await pilot.pause(1.0)

    assert snap_compare(
        make_app(tmp_path, "runs"), terminal_size=size, run_before=before
    )
