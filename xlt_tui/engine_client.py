"""Everything the TUI does to the engine, across the process boundary.

Launch writes the config to `launches/<run_id>.toml` and starts
`xlt-engine run --run-id <run_id>` detached (engine.control.launch_detached):
its own session, so it outlives the TUI and an SSH hang-up; its console
output goes to `launches/<run_id>.out`. The engine puts the run in the store
as `starting` as soon as it has parsed its arguments, and records there how
the start ended (a failed start has the engine's own message in `error`).
Before that first write the run exists only as its launch record: shown as
`starting` while the process lives, and as `failed` with the last line of its
output if it died without writing anything (then Python itself could not
start the engine, and that line is the interpreter's).

Light module: no torch, no textual.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import tomli_w

from engine.atomic import write_text_atomic
from engine.config import ExperimentConfig, parse_config
from engine.control import (
    LIVE_STATUSES,
    Launched,
    launch_alive,
    launch_detached,
    new_run_id,
    read_launches,
    request_stop,
)
from engine.errors import InputError
from engine.store import Store
from engine.workspace import Workspace


class EngineClient:
    def __init__(self, workspace: Workspace):
        self.workspace = workspace
        self.store = Store(workspace)
        self._children: dict[int, subprocess.Popen] = {}

    # -- paths --------------------------------------------------------------
    def events_path(self, run_id: str) -> Path:
        return self.workspace.run_events(run_id)

    def engine_log_path(self, run_id: str) -> Path:
        return self.workspace.run_log(run_id)

    def launch_output_path(self, run_id: str) -> Path:
        return self.workspace.launch_output(run_id)

    # -- reading ------------------------------------------------------------
    def runs(self) -> list[dict[str, Any]]:
        """Every run, newest last, as the store has it; launches the engine
        has not written yet show as starting (or failed: it never started)."""
        self._reap_children()
        runs = self.store.runs()
        known = {r["id"] for r in runs}
        for launch in read_launches(self.workspace):
            if launch["id"] in known:
                continue
            record = self._pending_launch(launch)
            if record is not None:
                runs.append(record)
        runs.sort(key=lambda r: r.get("started_at") or 0)
        return runs

    def run(self, run_id: str) -> dict[str, Any] | None:
        for record in self.runs():
            if record["id"] == run_id:
                return record
        return None

    def _pending_launch(self, launch: dict[str, Any]) -> dict[str, Any] | None:
        """A launch not in the store (when we read it) as a run record."""
        run_id = launch["id"]
        alive = launch_alive(launch)
        if not alive:
            registered = self.store.get_run(run_id)
            if registered is not None:
                return registered  # the engine wrote it between our two reads
        return {
            "id": run_id,
            "name": launch.get("name", ""),
            "status": "starting" if alive else "failed",
            "started_at": launch.get("started_at"),
            "ended_at": None if alive else _mtime(self.launch_output_path(run_id)),
            "pid": launch["pid"],
            "host": launch.get("host"),
            "config": launch.get("config", {}),
            "config_file": launch.get("config_file"),
            "stages_done": 0,
            "stages_total": None,
            "error": None if alive else self._never_started(run_id),
            "launch_only": True,
        }

    def _never_started(self, run_id: str) -> str:
        """Why a launch's process died before the engine wrote anything: the
        last line it printed (Python's, not the engine's: the engine records
        its own failures in the store)."""
        try:
            text = self.launch_output_path(run_id).read_text(
                encoding="utf-8", errors="replace"
            )
        except OSError:
            text = ""
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        if lines:
            return lines[-1]
        return "the engine process exited before it started (no output)"

    def results(self, run_id: str | None = None) -> list[dict[str, Any]]:
        return self.store.results(run_id=run_id)

    # -- launching ------------------------------------------------------------
    def validate(self, raw: dict[str, Any], source: str | Path) -> ExperimentConfig:
        """The engine's own validation; InputError with the CLI's words if bad."""
        return parse_config(raw, source=source)

    def launch(self, raw: dict[str, Any], source: str | Path) -> Launched:
        """Validate, write the config and start the engine, detached."""
        config = self.validate(raw, source)
        resolved = config.to_toml_dict()  # absolute paths: loadable from anywhere
        run_id = new_run_id(config.name)
        config_path = self.workspace.launch_config(run_id)
        write_text_atomic(config_path, tomli_w.dumps(resolved))
        launched = launch_detached(
            self.workspace, config_path, run_id, name=config.name, config=resolved
        )
        self._children[launched.pid] = launched.process
        return launched

    def relaunch(self, run_id: str) -> Launched:
        record = self.run(run_id)
        if record is None or not record.get("config"):
            raise InputError(f"run '{run_id}' has no recorded config to relaunch")
        source = record.get("config_file") or str(self.workspace.root / "relaunch.toml")
        return self.launch(record["config"], source)

    # -- controlling ----------------------------------------------------------
    def cancel(self, run_id: str) -> str:
        """Ask the run to stop at its next safe point (SIGTERM, like
        `xlt-engine cancel`); what finished is kept."""
        record = self.run(run_id)
        if record is None:
            raise InputError(f"no run '{run_id}' in this workspace")
        return request_stop(record)

    def delete(self, run_id: str) -> None:
        """Remove a run's record, results, events and launch files. Checkpoints
        and cached stages stay: other runs may share them."""
        record = self.run(run_id)
        if record is None:
            raise InputError(f"no run '{run_id}' in this workspace")
        if record["status"] in LIVE_STATUSES:
            raise InputError(
                f"run {run_id} is still {record['status']}; cancel it first"
            )
        self.store.delete_run(run_id)
        shutil.rmtree(self.workspace.run_dir(run_id), ignore_errors=True)
        for path in self.workspace.launch_files(run_id):
            path.unlink(missing_ok=True)

    def _reap_children(self) -> None:
        # Our own children would stay zombies (and look alive) until waited for.
        for pid, child in list(self._children.items()):
            if child.poll() is not None:
                del self._children[pid]


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None
