"""Faults lose nothing that was finished: kill -9, cancel, a failing stage."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from engine.store import Store
from tests.conftest import REPO, engine_cmd, run_engine

pytestmark = pytest.mark.slow

# The baseline target stage runs first and finishes in seconds; the intermediate
# stage after it trains long enough to be killed in the middle.
LONG_INTERMEDIATE = "[train.intermediate]\nepochs = 400\n"


def start_engine(cfg: Path, workspace: Path, run_id: str) -> subprocess.Popen:
    return subprocess.Popen(
        engine_cmd("run", str(cfg), "--workspace", str(workspace), "--run-id", run_id),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )


def wait_for(predicate, timeout: float = 300.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def events_of(workspace: Path, run_id: str) -> list[dict]:
    path = workspace / "runs" / run_id / "events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def in_intermediate_training(workspace: Path, run_id: str) -> bool:
    return any(
        e["type"] == "step" and e["stage"].startswith("intermediate/")
        for e in events_of(workspace, run_id)
    )


def config_with_long_intermediate(experiment) -> Path:
    cfg = experiment(epochs=1)
    cfg.write_text(cfg.read_text() + LONG_INTERMEDIATE)
    return cfg


def kill_9_during_intermediate(cfg: Path, workspace: Path, run_id: str) -> None:
    """Start a run and kill -9 it once the intermediate stage is training."""
    proc = start_engine(cfg, workspace, run_id)
    try:
        wait_for(
            lambda: in_intermediate_training(workspace, run_id),
            what="the intermediate stage to start",
        )
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_kill_9_keeps_finished_results_and_shows_interrupted(experiment, workspace):
    cfg = config_with_long_intermediate(experiment)
    kill_9_during_intermediate(cfg, workspace, "killed")

    store = Store(workspace / "xlt.json")
    results = store.results(run_id="killed")  # the store still loads
    assert {(r["intermediate"], r["language"]) for r in results} == {
        ("baseline", "en"),
        ("baseline", "de"),
    }
    assert store.get_run("killed")["status"] == "interrupted"
    listing = run_engine("runs", "--json", "--workspace", str(workspace))
    assert json.loads(listing.stdout)[0]["status"] == "interrupted"
    # No half-written checkpoint is mistaken for a finished one: the only
    # finished one is the baseline's kept target model.
    finished = [
        json.loads(marker.read_text())
        for marker in (workspace / "checkpoints").glob("*/xlt_stage.json")
    ]
    assert [m.get("target") for m in finished] == ["sent"]
    assert [m["intermediate"] for m in finished] == ["baseline"]
    table = run_engine("results", "--workspace", str(workspace))
    assert table.returncode == 0 and "baseline" in table.stdout


def test_cancel_stops_at_a_safe_point_and_keeps_results(experiment, workspace):
    cfg = config_with_long_intermediate(experiment)
    proc = start_engine(cfg, workspace, "cancelled")
    try:
        wait_for(
            lambda: in_intermediate_training(workspace, "cancelled"),
            what="the intermediate stage to start",
        )
        cancel = run_engine("cancel", "cancelled", "--workspace", str(workspace))
        assert cancel.returncode == 0, cancel.stderr
        assert "asked run cancelled" in cancel.stdout
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1
    store = Store(workspace / "xlt.json")
    run = store.get_run("cancelled")
    assert run["status"] == "cancelled" and run["ended_at"]
    assert len(store.results(run_id="cancelled")) == 2
    last = events_of(workspace, "cancelled")[-1]
    assert last["type"] == "run_end" and last["status"] == "cancelled"
    # Cancelling a run that has ended says so and changes nothing.
    again = run_engine("cancel", "cancelled", "--workspace", str(workspace))
    assert again.returncode == 0 and "not running" in again.stdout


def test_resume_after_kill_reuses_what_finished(experiment, workspace):
    cfg = config_with_long_intermediate(experiment)
    kill_9_during_intermediate(cfg, workspace, "first")
    dry = run_engine("run", str(cfg), "--workspace", str(workspace), "--dry-run")
    # The baseline's target stage is done; the intermediate and its target remain.
    assert "2 trainings to run (1 intermediate, 1 target)" in dry.stdout
    assert "1 target results reused" in dry.stdout
