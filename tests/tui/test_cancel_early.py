"""Cancelling a run in its first second, before the engine registered it
(issue 15 item 6): the run reads as cancelled, not failed."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

from engine.control import process_start_time
from engine.workspace import Workspace
from xlt_tui.engine_client import EngineClient

RUN_ID = "20261126-091705-demo-c0c0"


def start_unregistered_launch(ws: Workspace) -> subprocess.Popen:
    """A launch whose process has not written its store record yet (an
    interpreter still importing), as engine.control.launch_detached leaves it."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    ws.launches_dir.mkdir(parents=True, exist_ok=True)
    ws.launch_output(RUN_ID).write_text("")
    ws.launch_record(RUN_ID).write_text(
        json.dumps(
            {
                "id": RUN_ID,
                "name": "demo",
                "pid": child.pid,
                "pid_start": process_start_time(child.pid),
                "host": socket.gethostname(),
                "started_at": time.time(),
            }
        )
    )
    return child


def test_cancel_before_the_engine_registered_reads_as_cancelled(tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    client = EngineClient(ws)
    child = start_unregistered_launch(ws)
    try:
        assert client.run(RUN_ID)["status"] == "starting"
        assert "asked run" in client.cancel(RUN_ID)
        child.wait(timeout=10)
        record = client.run(RUN_ID)
        assert record["status"] == "cancelled"
        assert record["error"] is None
    finally:
        child.kill()
        child.wait()


def test_a_launch_that_died_on_its_own_is_still_failed(tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    client = EngineClient(ws)
    child = start_unregistered_launch(ws)
    ws.launch_output(RUN_ID).write_text("ModuleNotFoundError: No module named 'x'\n")
    child.kill()
    child.wait()
    record = client.run(RUN_ID)
    assert record["status"] == "failed"
    assert "ModuleNotFoundError" in record["error"]
