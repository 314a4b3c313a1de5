"""Run control: run ids, the workspace's paths, signals, liveness, and a run
started by id that is on record from its first moment to its end."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.control import (
    LIVE_STATUSES,
    RUN_STATUSES,
    StopFlag,
    check_run_id,
    effective_status,
    launch_alive,
    launch_detached,
    new_run_id,
    process_alive,
    process_start_time,
    read_launches,
    request_stop,
)
from engine.display import STATUS_COLOURS
from engine.errors import Cancelled, InputError
from engine.store import RESULT_KEYS, Store
from engine.workspace import Workspace
from tests.conftest import run_engine

# --------------------------------------------------------------------------
# ids, statuses and paths


def test_run_ids_sort_by_start_and_bad_ones_are_refused():
    rid = new_run_id("XNLI from MNLI!")
    assert check_run_id(rid) == rid
    assert "-xnli-from-mnli-" in rid and rid[:8] == time.strftime("%Y%m%d")
    for bad in ("../escape", "", "-leading", "a" * 101, "with space"):
        with pytest.raises(InputError, match="not valid"):
            check_run_id(bad)


def test_every_status_has_a_colour_and_starting_is_live():
    assert set(STATUS_COLOURS) == set(RUN_STATUSES)
    assert "starting" in LIVE_STATUSES and "interrupted" not in LIVE_STATUSES


def test_workspace_names_every_file_of_the_layout(tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    root = ws.root
    assert ws.store_path == root / "xlt.json"
    assert ws.results_path == root / "results.jsonl"
    assert ws.store_lock_path == root / "xlt.json.lock"
    assert ws.run_config("r") == root / "runs" / "r" / "config.toml"
    assert ws.run_events("r") == root / "runs" / "r" / "events.jsonl"
    assert ws.run_log("r") == root / "runs" / "r" / "engine.log"
    assert ws.launch_files("r") == (
        root / "launches" / "r.toml",
        root / "launches" / "r.json",
        root / "launches" / "r.out",
    )
    assert ws.export_file("a.csv") == root / "exports" / "a.csv"
    assert ws.checkpoint_marker("k") == root / "checkpoints" / "k" / "xlt_stage.json"
    assert ws.stage_result("k") == root / "stages" / "k" / "result.json"
    assert ws.stage_generations("k") == root / "stages" / "k" / "generations"
    assert ws.cache_dir("k") == root / "cache" / "k"
    assert ws.model_dir("xlt-tiny") == root / "models" / "xlt-tiny"


def test_partial_names_are_beside_the_target_and_never_shared(tmp_path):
    target = tmp_path / "checkpoints" / "abc"
    first, second = Workspace.partial(target), Workspace.partial(target)
    assert first != second
    assert first.parent == target.parent
    assert first.name.startswith(f"abc.partial-{os.getpid()}-")
    code = (
        "import sys; from engine.workspace import Workspace; "
        "print(Workspace.partial(sys.argv[1]).name)"
    )
    other = subprocess.run(
        [sys.executable, "-c", code, str(target)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert other.startswith("abc.partial-") and f"-{os.getpid()}-" not in other


def test_store_uses_the_workspace_files(tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    store = Store(ws)
    store.create_run({"id": "r1", "status": "finished"})
    store.add_results([dict.fromkeys(RESULT_KEYS, 1) | {"run_id": "r1"}])
    assert ws.store_path.is_file() and ws.results_path.is_file()
    assert ws.store_lock_path.exists()
    assert Store(ws.store_path).results() == store.results()


# --------------------------------------------------------------------------
# liveness


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _record(status: str, pid: int, **extra) -> dict:
    return {
        "id": "r",
        "status": status,
        "pid": pid,
        "pid_start": process_start_time(pid),
        "host": socket.gethostname(),
        **extra,
    }


def test_a_starting_run_whose_process_is_gone_reads_as_interrupted():
    assert effective_status(_record("starting", os.getpid())) == "starting"
    assert effective_status(_record("starting", _dead_pid())) == "interrupted"
    assert effective_status(_record("running", _dead_pid())) == "interrupted"
    assert effective_status(_record("failed", _dead_pid())) == "failed"
    elsewhere = _record("starting", _dead_pid(), host="another-host")
    assert effective_status(elsewhere) == "starting"


def test_a_zombie_or_a_reused_pid_is_not_the_run():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    start = process_start_time(child.pid)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # exited, not yet waited for: a zombie
        if Path(f"/proc/{child.pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
            break
        time.sleep(0.02)
    assert not process_alive(child.pid, start)
    child.wait()
    assert process_alive(os.getpid(), process_start_time(os.getpid()))
    assert not process_alive(os.getpid(), process_start_time(os.getpid()) - 1)


# --------------------------------------------------------------------------
# signals


@pytest.fixture
def restore_signals():
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    saved[signal.SIGHUP] = signal.getsignal(signal.SIGHUP)
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def test_a_signal_while_starting_stops_at_once_then_only_flags(restore_signals):
    stop = StopFlag(immediate=True)
    stop.install()
    with pytest.raises(Cancelled, match="SIGTERM"):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends
    stop = StopFlag(immediate=True)
    stop.install()
    stop.defer()
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.05)
    assert stop() and stop.signal_name == "SIGTERM"


def test_request_stop_signals_a_starting_run_and_refuses_other_hosts():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        message = request_stop(_record("starting", child.pid))
        assert f"pid {child.pid}" in message
        assert child.wait(timeout=10) == -signal.SIGTERM
    finally:
        if child.poll() is None:
            child.kill()
    assert "not running" in request_stop(_record("failed", child.pid))
    with pytest.raises(InputError, match="cancel it there"):
        request_stop(_record("running", os.getpid(), host="another-host"))


# --------------------------------------------------------------------------
# a run started by id is on record from the start


def test_bad_input_with_a_run_id_is_a_failed_run_with_the_engines_message(
    experiment, workspace
):
    cfg = experiment()
    cfg.write_text(cfg.read_text().replace('targets = ["sent"]', 'targets = ["xnil"]'))
    result = run_engine(
        "run", str(cfg), "--workspace", str(workspace), "--run-id", "bad1"
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (printed,) = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    run = Store(workspace / "xlt.json").get_run("bad1")
    assert run["status"] == "failed"
    assert printed == f"error: {run['error']}"
    assert "unknown task 'xnil'" in run["error"]
    assert run["host"] == socket.gethostname() and run["pid"] > 0
    assert run["ended_at"] >= run["started_at"]
    assert run["config_file"] == str(cfg.resolve())
    assert not (workspace / "runs").exists()  # no run folder, only the record


def test_bad_data_with_a_run_id_records_the_config_that_was_read(
    experiment, workspace, tmp_path
):
    cfg = experiment()
    (tmp_path / "data" / "dev.jsonl").write_text('{"text": "x", "label": "maybe"}\n')
    result = run_engine(
        "run", str(cfg), "--workspace", str(workspace), "--run-id", "bad2"
    )
    assert result.returncode == 2
    run = Store(workspace / "xlt.json").get_run("bad2")
    assert run["status"] == "failed" and "'maybe'" in run["error"]
    assert run["name"] == "exp" and run["config"]["targets"] == ["sent"]
    listing = json.loads(
        run_engine("runs", "--json", "--workspace", str(workspace)).stdout
    )
    assert [(r["id"], r["status"]) for r in listing] == [("bad2", "failed")]


def test_a_used_run_id_is_refused_and_the_other_run_left_alone(experiment, workspace):
    cfg = experiment()
    Store(workspace / "xlt.json").create_run(
        {"id": "taken", "name": "other", "status": "finished", "error": None}
    )
    result = run_engine(
        "run", str(cfg), "--workspace", str(workspace), "--run-id", "taken"
    )
    assert result.returncode == 2 and "already used" in result.stderr
    run = Store(workspace / "xlt.json").get_run("taken")
    assert run == {"id": "taken", "name": "other", "status": "finished", "error": None}


def test_detached_launch_is_starting_at_once_and_a_cancel_then_is_recorded(
    experiment, workspace
):
    """As the TUI starts it: the run is in the store as `starting` long before
    the model is loaded; cancelling it then ends it as cancelled."""
    cfg = experiment()
    ws = Workspace.open(workspace)
    launched = launch_detached(ws, cfg, "det1", name="exp")
    store = Store(ws)
    try:
        (launch,) = read_launches(ws)
        assert launch["pid"] == launched.pid and launch_alive(launch)
        assert os.getsid(launched.pid) != os.getsid(0)
        deadline = time.monotonic() + 60
        run = None
        while time.monotonic() < deadline:
            run = store.get_run("det1")
            if run is not None:
                break
            time.sleep(0.02)
        assert run is not None and run["status"] == "starting", run
        assert run["pid"] == launched.pid
        assert "asked run det1" in request_stop(run)
        assert launched.process.wait(timeout=60) == 1
    finally:
        if launched.process.poll() is None:
            launched.process.kill()
    run = store.get_run("det1")
    assert run["status"] == "cancelled" and run["ended_at"], run
    assert not ws.run_dir("det1").exists()
    output = ws.launch_output("det1").read_text()
    assert "cancelled before the run started" in output
    assert not launch_alive(launch)


def test_read_launches_skips_what_it_cannot_read(tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    ws.launches_dir.mkdir()
    ws.launch_record("half").write_text('{"id": "half", "pi')
    ws.launch_record("odd").write_text("[1, 2]")
    ws.launch_record("ok").write_text(json.dumps({"id": "ok", "pid": 1}))
    assert [launch["id"] for launch in read_launches(ws)] == ["ok"]


def test_any_way_a_start_ends_early_is_recorded(tmp_path, restore_signals):
    from engine.launch import StartingRun

    ws = Workspace.open(tmp_path / "ws")
    store = Store(ws)
    endings = {
        "input": InputError("exp.toml: targets: unknown task 'xnil'"),
        "bug": RuntimeError("boom"),
        "cancel": Cancelled("cancelled while starting (SIGTERM received)"),
    }
    for run_id, exc in endings.items():
        with pytest.raises(type(exc)), StartingRun(ws, run_id, tmp_path / "exp.toml"):
            assert store.get_run(run_id)["status"] == "starting"
            raise exc
    assert [(r["id"], r["status"], r["error"]) for r in store.runs()] == [
        ("input", "failed", "exp.toml: targets: unknown task 'xnil'"),
        ("bug", "failed", "RuntimeError: boom"),
        ("cancel", "cancelled", None),
    ]
    with pytest.raises(InputError, match="already used"):
        StartingRun(ws, "bug", tmp_path / "exp.toml")
