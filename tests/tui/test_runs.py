"""The Runs screen: the store's truth, live, and the actions on a run."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap

from textual.widgets import DataTable

from engine.control import process_start_time
from engine.store import Store
from engine.workspace import Workspace
from tests.tui.conftest import T0, result_records, run_record
from tests.tui.helpers import table_text, wait_until
from xlt_tui.app import XltApp
from xlt_tui.screens.confirm import ConfirmScreen


def runs_table(app) -> DataTable:
    return app.screen.query_one("#runs-table", DataTable)


async def test_lists_runs_newest_first_with_status_stages_and_duration(tui_workspace):
    app = XltApp(tui_workspace, poll_seconds=0.1)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: runs_table(app).row_count == 3)
        rows = table_text(runs_table(app))
        assert [r[0] for r in rows] == [
            "20261126-092000-demo-e5f6",
            "20261126-085000-demo-c3d4",
            "20261126-080000-demo-a1b2",
        ]
        assert [r[2] for r in rows] == ["cancelled", "failed", "finished"]
        # stages, progress, ETA (none: finished), started, duration
        assert rows[2][3:] == ["8/8", "100%", "", "11-26 08:00", "5m53s"]


async def test_run_started_elsewhere_appears_and_a_dead_one_is_interrupted(
    tui_workspace,
):
    app = XltApp(tui_workspace, poll_seconds=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: runs_table(app).row_count == 3)
        # Another process (the CLI, another TUI) registers a run; its engine is
        # then gone without recording an end.
        child = subprocess.Popen([sys.executable, "-c", "pass"])
        record = run_record("cli-run", "running", T0 + 9000, 0, ended_at=None)
        record.update(pid=child.pid, pid_start=process_start_time(child.pid))
        Store(tui_workspace.store_path).create_run(record)
        await wait_until(pilot, lambda: runs_table(app).row_count == 4)
        child.wait()
        await wait_until(
            pilot, lambda: table_text(runs_table(app))[0][2] == "interrupted"
        )


async def test_delete_asks_first_and_removes_record_and_results(tui_workspace):
    store = Store(tui_workspace.store_path)
    rid = "20261126-080000-demo-a1b2"
    store.add_results(result_records("20261126-085000-demo-c3d4")[:3])
    app = XltApp(tui_workspace, poll_seconds=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: runs_table(app).row_count == 3)
        runs_table(app).move_cursor(row=2)
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause(0.2)
        assert store.get_run(rid) is not None
        await pilot.press("x", "y")
        await wait_until(pilot, lambda: runs_table(app).row_count == 2)
        assert store.get_run(rid) is None
        assert store.results(run_id=rid) == []
        assert len(store.results()) == 3  # the other run's results stay


async def test_cancel_sends_the_engine_a_graceful_stop(tui_workspace, tmp_path):
    marker = tmp_path / "got-sigterm"
    script = textwrap.dedent(f"""
        import signal, sys, time, pathlib
        def stop(*_):
            pathlib.Path({str(marker)!r}).write_text("stopped")
            sys.exit(0)
        signal.signal(signal.SIGTERM, stop)
        print("ready", flush=True)
        time.sleep(60)
    """)
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout.readline().strip() == "ready"
    record = run_record("live", "running", T0 + 9000, 0, ended_at=None)
    record.update(
        pid=child.pid,
        pid_start=process_start_time(child.pid),
        host=socket.gethostname(),
    )
    Store(tui_workspace.store_path).create_run(record)
    app = XltApp(tui_workspace, poll_seconds=0.1)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, lambda: runs_table(app).row_count == 4)
            assert table_text(runs_table(app))[0][0] == "live"
            await pilot.press("c")  # asks first; "no" leaves the run alone
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("n")
            await pilot.pause(0.3)
            assert child.poll() is None
            await pilot.press("c", "y")
            assert child.wait(timeout=10) == 0
            assert marker.read_text() == "stopped"
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)


async def test_relaunch_starts_the_same_config_detached(tui_workspace):
    app = XltApp(tui_workspace, poll_seconds=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: runs_table(app).row_count == 3)
        runs_table(app).move_cursor(row=2)  # the finished demo run
        await pilot.press("r")  # asks first
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause(0.3)
        assert app.client._children == {}
        await pilot.press("r", "y")
        await wait_until(pilot, lambda: len(app.client._children) == 1)
        (pid,) = app.client._children
        try:
            # Its own session: a hang-up of the TUI's terminal does not reach it.
            assert os.getsid(pid) != os.getsid(0)
            launches = list((tui_workspace.root / "launches").glob("*.toml"))
            assert len(launches) == 1
            from engine.config import load_config

            relaunched = load_config(launches[0]).to_toml_dict()
            original = Store(tui_workspace.store_path).get_run(
                "20261126-080000-demo-a1b2"
            )["config"]
            assert relaunched == original
        finally:
            os.killpg(pid, signal.SIGKILL)


async def test_two_tuis_on_one_workspace_show_the_same_truth(tui_workspace):
    first = XltApp(tui_workspace, poll_seconds=0.1)
    second = XltApp(tui_workspace, poll_seconds=0.1)
    async with (
        first.run_test(size=(80, 24)) as p1,
        second.run_test(size=(80, 24)) as p2,
    ):
        await wait_until(p1, lambda: runs_table(first).row_count == 3)
        await wait_until(p2, lambda: runs_table(second).row_count == 3)
        runs_table(first).move_cursor(row=0)
        await p1.press("x", "y")  # delete the newest run in the first TUI
        await wait_until(p2, lambda: runs_table(second).row_count == 2)
        assert table_text(runs_table(first)) == table_text(runs_table(second))


async def test_launch_whose_model_has_no_weights_shows_failed_from_the_store(
    tmp_path, experiment
):
    """A real launch, as the Launch screen makes it: the engine is in the store
    as `starting` at once, then `failed` with its own message, which the Runs
    screen and the monitor show."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    config = experiment()
    model = tmp_path / "no-weights"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "bert"}')
    config.write_text(
        config.read_text().replace('model = "xlt-tiny"', f'model = "{model}"')
    )
    ws = Workspace.open(tmp_path / "ws")
    app = XltApp(ws, poll_seconds=0.1)
    seen: list[str] = []
    async with app.run_test(size=(120, 40)) as pilot:
        with open(config, "rb") as fh:
            launched = app.client.launch(tomllib.load(fh), config)

        def status() -> str | None:
            rows = table_text(runs_table(app))
            if rows and rows[0][2] not in seen:
                seen.append(rows[0][2])
            return rows[0][2] if rows else None

        await wait_until(pilot, lambda: status() == "failed", timeout=120)
        assert seen[0] == "starting", seen
        record = Store(ws).get_run(launched.run_id)
        assert record["status"] == "failed"
        assert "has no .safetensors weights" in record["error"]
        detail = str(app.screen.query_one("#runs-detail").render())
        assert record["error"][:60] in detail.replace("\n", "")
        await pilot.press("enter")
        screen = app.screen
        assert type(screen).__name__ == "MonitorScreen"
        await wait_until(pilot, lambda: screen.status == "failed", timeout=30)
        assert screen.last_error == record["error"]


async def test_detail_panel_shows_the_runs_provenance(tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    store = Store(ws.store_path)
    provenance = {
        "xlt": "0.1.0",
        "git_commit": "0123456789abcdef0123",
        "device": "cuda:0 (NVIDIA H100)",
        "precision": "bf16",
        "versions": {"torch": "2.5.1", "seqeval": "1.2.2"},
        "data": {"xnli/test/de": "sha256:" + "ab" * 32},
    }
    store.create_run(
        {"id": "old", "name": "demo", "status": "finished", "started_at": T0}
    )
    store.create_run(
        {
            "id": "new",
            "name": "demo",
            "status": "finished",
            "started_at": T0 + 60,
            "provenance": provenance,
        }
    )
    app = XltApp(ws, poll_seconds=0.1)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: runs_table(app).row_count == 2)

        def detail() -> str:
            return str(app.screen.query_one("#runs-detail").render())

        await wait_until(pilot, lambda: "provenance" in detail())
        text = detail()  # the newest run first
        assert "provenance: xlt 0.1.0 · git_commit 0123456789ab… · " in text
        assert "precision bf16" in text and "cuda:0 (NVIDIA H100)" in text
        assert "versions: torch 2.5.1, seqeval 1.2.2" in text
        assert "data: xnli/test/de sha256:ababa…" in text
        await pilot.press("down")  # a run from before provenance was recorded
        await wait_until(pilot, lambda: "not recorded" in detail())


async def test_a_damaged_store_is_said_where_the_runs_would_be(tui_workspace):
    from textual.widgets import Static

    (tui_workspace.root / "xlt.json").write_bytes(b"\xff\xfe not json")
    app = XltApp(tui_workspace, poll_seconds=0.1)
    async with app.run_test(size=(120, 40)) as pilot:

        def shown() -> str:
            return str(app.screen.query_one("#runs-empty", Static).render())

        await wait_until(pilot, lambda: "cannot be read" in shown(), describe=shown)
        assert "xlt.json" in shown()


async def test_cursor_stays_on_its_run_when_a_new_run_appears_on_top(tui_workspace):
    app = XltApp(tui_workspace, poll_seconds=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: runs_table(app).row_count == 3)
        runs_table(app).move_cursor(row=1)
        chosen = "20261126-085000-demo-c3d4"
        assert app.screen.selected_id() == chosen
        record = run_record("newer", "finished", T0 + 9000, 60)
        Store(tui_workspace.store_path).create_run(record)
        await wait_until(pilot, lambda: runs_table(app).row_count == 4)
        await pilot.pause(0.3)  # a few more polls
        assert runs_table(app).cursor_row == 2
        assert app.screen.selected_id() == chosen


async def test_detail_says_error_once_when_the_engine_labelled_it(tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    Store(ws.store_path).create_run(
        {
            "id": "bad",
            "name": "demo",
            "status": "failed",
            "started_at": T0,
            "error": "error: x.toml: allow_code_execution is off",
        }
    )
    app = XltApp(ws, poll_seconds=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: runs_table(app).row_count == 1)
        detail = str(app.screen.query_one("#runs-detail").render())
        assert "error: x.toml: allow_code_execution is off" in detail
        assert "error: error:" not in detail
