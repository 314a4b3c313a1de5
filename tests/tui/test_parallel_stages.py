"""Stages side by side (one worker per device): the monitor's state keeps
every running stage, the Monitor shows a row per stage and a GPU line per
device in use, the Runs list says how many run at once."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from engine.events import EventWriter
from engine.store import Store
from tests.tui.conftest import PARALLEL_STAGES, T0, parallel_run_events, write_events
from tests.tui.helpers import table_text, wait_until
from tests.tui.test_monitor import MonitorTestApp, make_run, text
from xlt_tui import gpu
from xlt_tui.app import XltApp
from xlt_tui.monitor_state import MonitorState, describe
from xlt_tui.widgets.stage_rows import StageRow, StageRows, render_rows

RUN = "20261126-100000-demo-par1"
XQA, SENTIMENT = (stage for stage, _, _ in PARALLEL_STAGES)


def state_of(events) -> MonitorState:
    state = MonitorState()
    state.apply_many(events)
    return state


# --------------------------------------------------------------------------
# the state


def test_state_keeps_every_running_stage_with_its_device_and_progress():
    state = state_of(parallel_run_events(RUN))
    assert state.parallel
    assert list(state.running) == [XQA, SENTIMENT]  # start order
    xqa, sentiment = state.running[XQA], state.running[SENTIMENT]
    assert (xqa.device, xqa.step, xqa.progress) == ("cuda:0", 40, 0.4)
    assert (sentiment.device, sentiment.step, sentiment.progress) == (
        "cuda:1",
        70,
        0.7,
    )
    assert (xqa.samples_per_s, sentiment.samples_per_s) == (400.0, 500.0)
    assert xqa.last_loss == pytest.approx(0.7 * 0.97**40 + 0.05, abs=1e-4)
    # Each stage's own series, never the other's.
    assert len(xqa.loss) == 4 and len(sentiment.loss) == 7
    # The charts follow the stage started last.
    assert state.stage is sentiment and state.loss is sentiment.loss
    # 1 stage done + 0.4 + 0.7 of the 4 that train.
    assert state.overall_progress() == pytest.approx(2.1 / 4)


def test_a_stage_end_removes_it_and_counts_done_out_of_plan_order():
    state = state_of(parallel_run_events(RUN, ended=True))
    assert list(state.running) == [XQA]
    # Stage 3 ended before stage 2: two stages are done, not three.
    assert state.stages_done == 2
    # The charts move to the stage still running.
    assert state.stage is state.running[XQA]
    assert state.overall_progress() == pytest.approx(2.4 / 4)
    state.apply({"type": "stage_end", "t": T0 + 200, "stage": XQA, "index": 2})
    assert state.running == {} and state.stages_done == 3


def test_stage_eta_counts_down_per_stage():
    events = parallel_run_events(RUN)
    state = state_of(events)
    last = events[-1]["t"]
    # Each stage: its own last eta_s, counted down since its own last step.
    xqa, sentiment = state.running[XQA], state.running[SENTIMENT]
    assert xqa.eta(now=last) == pytest.approx(30.0 - (last - xqa.eta_t))
    assert sentiment.eta(now=last + 5) == pytest.approx(15.0 - 5)


def step(stage: str, t: float, progress: float, eta_s: float) -> dict:
    return {
        "type": "step",
        "t": t,
        "stage": stage,
        "progress": progress,
        "eta_s": eta_s,
    }


def test_parallel_overall_eta_is_work_left_over_the_recent_aggregate_rate():
    state = MonitorState()
    plan = [{"id": "intermediate/a/seed1"}]
    plan += [{"id": f"target/t{i}/from-a/seed1"} for i in range(3)]
    state.apply({"type": "plan", "t": 1000.0, "stages": plan})
    # The intermediate stage alone: 600 s.
    state.apply({"type": "stage_start", "t": 1000.0, "stage": plan[0]["id"]})
    for t in range(1060, 1601, 60):
        state.apply(step(plan[0]["id"], t, (t - 1000) / 600, 1600.0 - t))
    state.apply({"type": "stage_end", "t": 1600.0, "stage": plan[0]["id"]})
    # Then two targets side by side, each 0.5% of a stage per second.
    for i, device in ((1, "cuda:0"), (2, "cuda:1")):
        state.apply(
            {
                "type": "stage_start",
                "t": 1600.0,
                "stage": plan[i]["id"],
                "device": device,
            }
        )
    for t in range(1610, 1751, 10):
        for i in (1, 2):
            progress = 0.005 * (t - 1600)
            state.apply(step(plan[i]["id"], t, progress, (1 - progress) / 0.005))
    # 2.5 of 4 stages done, 1.5 left at 0.01 stages/s together: 150 s. (The
    # mean since the start, 750 s for 2.5, would say 450 s.)
    assert state.overall_progress() == pytest.approx(2.5 / 4)
    assert state.overall_eta(now=1750.0) == pytest.approx(150.0)
    # Counted down between events.
    assert state.overall_eta(now=1760.0) == pytest.approx(140.0)


def test_parallel_overall_eta_is_never_below_the_slowest_running_stage():
    state = MonitorState()
    plan = [{"id": "target/a/from-baseline/seed1"}, {"id": "target/b/from-x/seed1"}]
    state.apply({"type": "plan", "t": 1000.0, "stages": plan})
    for stage in plan:
        state.apply({"type": "stage_start", "t": 1000.0, "stage": stage["id"]})
    for t in range(1010, 1061, 10):
        state.apply(step(plan[0]["id"], t, 0.9 * (t - 1000) / 60, 5.0))
        # b is slow and says so: 0.1 done, 500 s to go.
        state.apply(step(plan[1]["id"], t, 0.1, 500.0))
    assert state.overall_eta(now=1060.0) == pytest.approx(500.0)


def test_one_stage_at_a_time_is_not_parallel():
    from tests.tui.conftest import finished_run_events

    state = state_of(finished_run_events(RUN)[:-3])  # before the last stage_end
    assert not state.parallel and state.max_running == 1
    assert list(state.running) == ["target/demo-xqa/from-demo-topic/seed1"]


# --------------------------------------------------------------------------
# the rows widget, with and without colour


def test_rows_tell_stages_apart_without_colour():
    state = state_of(parallel_run_events(RUN))
    now = T0 + 200
    rows = [
        StageRow.of(s, now, live=True, followed=s is state.stage)
        for s in state.running.values()
    ]
    out = io.StringIO()
    Console(file=out, width=80, no_color=True, color_system=None).print(
        render_rows(rows, "", max_rows=4, wide=False)
    )
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    xqa, sentiment = lines
    assert "cuda:0" in xqa and "40%" in xqa and "████░░░░░░" in xqa
    assert "cuda:1" in sentiment and "70%" in sentiment and "███████░░░" in sentiment
    # The stage the charts follow is marked by a glyph, not a colour.
    assert sentiment.startswith("▸") and not xqa.startswith("▸")
    assert "ETA" in xqa and "400 samples/s" in xqa and "500 samples/s" in sentiment


def test_rows_beyond_the_room_are_counted():
    rows = [
        StageRow(f"s{i}", f"stage {i}", f"cuda:{i}", 0.5, "", "", "", False)
        for i in range(6)
    ]
    out = io.StringIO()
    Console(file=out, width=80, no_color=True).print(
        render_rows(rows, "", max_rows=4, wide=False)
    )
    lines = out.getvalue().splitlines()
    assert len(lines) == 4 and "+3 more running" in lines[-1]


# --------------------------------------------------------------------------
# the Monitor, through Pilot


def fake_gpus(count: int):
    def sample(self, pid=None):
        self.reason = None
        return [
            gpu.GpuStats(i, "NVIDIA H100", 90 + i, (i + 1) * gpu.GIB, 80 * gpu.GIB)
            for i in range(count)
        ]

    return sample


async def test_monitor_shows_a_row_per_running_stage_and_drops_an_ended_one(
    tmp_path, monkeypatch
):
    from engine.workspace import Workspace

    monkeypatch.setattr(gpu.GpuProbe, "sample", fake_gpus(3))
    ws = Workspace.open(tmp_path / "ws")
    make_run(ws, RUN, stages_total=4)
    events = parallel_run_events(RUN)
    path = write_events(ws, RUN, events)
    app = MonitorTestApp(ws, RUN)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        rows_widget = screen.query_one("#stage-rows", StageRows)
        await wait_until(pilot, lambda: len(rows_widget.rows) == 2)
        assert screen.has_class("-parallel")
        assert not screen.query_one("#stage-line").display  # rows instead
        xqa, sentiment = rows_widget.rows
        assert (xqa.id, xqa.device, xqa.progress, xqa.step) == (
            XQA,
            "cuda:0",
            0.4,
            "40/100",
        )
        assert (sentiment.device, sentiment.progress) == ("cuda:1", 0.7)
        assert sentiment.followed and not xqa.followed
        assert xqa.eta.startswith("ETA") and sentiment.throughput == "500 samples/s"
        # Throughput of both together; a GPU line per device in use (not GPU2).
        await wait_until(pilot, lambda: "900" in text(screen, "stats-line"))
        assert text(screen, "stats-line").startswith("2 running")
        await wait_until(pilot, lambda: "GPU1" in text(screen, "gpu-line"))
        gpu_lines = text(screen, "gpu-line").splitlines()
        assert [line.split()[0] for line in gpu_lines] == ["GPU0", "GPU1"]

        # Stage 3 ends (written live): its row goes, the other stays.
        writer = EventWriter(path, RUN)
        writer.emit("stage_end", stage=SENTIMENT, kind="target", index=3, total=4)
        writer.close()
        await wait_until(pilot, lambda: len(rows_widget.rows) == 1)
        assert rows_widget.rows[0].id == XQA and rows_widget.rows[0].followed
        await wait_until(pilot, lambda: text(screen, "gpu-line").count("GPU") == 1)


async def test_monitor_of_one_stage_at_a_time_shows_no_rows(tmp_path, monkeypatch):
    from engine.workspace import Workspace
    from tests.tui.conftest import finished_run_events

    monkeypatch.setattr(gpu.GpuProbe, "sample", fake_gpus(1))
    ws = Workspace.open(tmp_path / "ws")
    make_run(ws, RUN)
    write_events(ws, RUN, finished_run_events(RUN)[:8])  # stage 1, step 50
    app = MonitorTestApp(ws, RUN)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: "step 50/100" in text(screen, "stage-line"))
        assert not screen.has_class("-parallel")
        assert not screen.query_one("#stage-rows").display
        assert screen.query_one("#stage-line").display


# --------------------------------------------------------------------------
# the Runs list and the run record


async def test_runs_list_shows_how_many_stages_run_at_once(tui_workspace):
    import os

    from engine.control import process_start_time
    from tests.tui.conftest import run_record

    store = Store(tui_workspace.store_path)
    live = run_record("20261126-100000-demo-live", "running", T0 + 9000, 0)
    live.update(
        ended_at=None,
        pid=os.getpid(),
        pid_start=process_start_time(os.getpid()),
        stages_running=2,
    )
    store.create_run(live)
    # A run that ended with a count left over reads as plain done/total.
    store.update_run("20261126-092000-demo-e5f6", stages_running=2)
    app = XltApp(tui_workspace, poll_seconds=0.1)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one("#runs-table")
        await wait_until(pilot, lambda: table.row_count == 4)
        rows = {r[0]: r for r in table_text(table)}
        assert rows["20261126-100000-demo-live"][3] == "3/8 · 2 running"
        assert rows["20261126-092000-demo-e5f6"][3] == "3/8"


def test_the_engine_records_how_many_stages_run(tmp_path):
    from engine.launch import _progress_to_store
    from engine.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws")
    store = Store(ws.store_path)
    store.create_run({"id": RUN, "status": "running", "stages_done": 0})
    finished = [1]  # the runner's count of stages finished
    listener = _progress_to_store(store, RUN, lambda: finished[0])
    for stage in (XQA, SENTIMENT):
        listener({"type": "stage_start", "stage": stage, "index": 2})
    assert store.get_run(RUN)["stages_running"] == 2
    finished[0] = 2
    listener({"type": "stage_end", "stage": SENTIMENT, "index": 3})
    record = store.get_run(RUN)
    assert (record["stages_running"], record["stages_done"]) == (1, 2)


def test_a_stage_that_did_not_finish_leaves_the_rows_and_is_not_done():
    state = state_of(parallel_run_events(RUN))
    end = {
        "type": "stage_end",
        "t": T0 + 100,
        "stage": SENTIMENT,
        "index": 3,
        "total": 4,
        "error": "worker on cuda:1 died (signal 9)",
    }
    state.apply(end)
    assert list(state.running) == [XQA]
    assert state.stages_done == 1 and state.trained_done == 1  # the intermediate
    assert state.overall_progress() == pytest.approx(1.4 / 4)
    line = describe(end)
    assert line is not None and "did not finish: worker on cuda:1 died" in line
