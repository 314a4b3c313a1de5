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

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
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


@dataclass
class DryRun:
    """What `xlt-engine run CONFIG --dry-run --json` says of a config: the
    plan's summary, what would stop a real run (`notices`: code execution not
    allowed, a contaminated code target; `missing_data`: data to fetch by
    hand) and the estimated seconds (None when it cannot be estimated)."""

    summary: dict[str, Any]
    notices: list[str] = field(default_factory=list)
    missing_data: dict[str, str] = field(default_factory=dict)
    total_seconds: float | None = None

    @property
    def refusals(self) -> list[str]:
        """Everything that would stop `xlt-engine run` before it trains."""
        return [*self.notices, *self.missing_data.values()]


def engine_message(stderr: str) -> str:
    """The engine's error as one message, without the CLI's "error: " label
    (the TUI adds its own) and the console's line wrapping."""
    text = " ".join(line.strip() for line in stderr.splitlines() if line.strip())
    return text.removeprefix("error:").strip() or "the engine's dry run failed"


class DryRunStopped(Exception):
    """A dry run stopped by `stop_dry_runs` before its verdict."""


class EngineClient:
    def __init__(self, workspace: Workspace):
        self.workspace = workspace
        self.store = Store(workspace)
        self._children: dict[int, subprocess.Popen] = {}
        self._dry_runs: set[subprocess.Popen] = set()  # checks in progress

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
        # Cancelled before the engine wrote its record (it installs its
        # signal handler only then): the SIGTERM ended the interpreter, which
        # is the user's cancel, not a failure.
        cancelled = not alive and launch.get("cancel_requested_at") is not None
        return {
            "id": run_id,
            "name": launch.get("name", ""),
            "status": "starting" if alive else "cancelled" if cancelled else "failed",
            "started_at": launch.get("started_at"),
            "ended_at": None if alive else _mtime(self.launch_output_path(run_id)),
            "pid": launch["pid"],
            "host": launch.get("host"),
            "config": launch.get("config", {}),
            "config_file": launch.get("config_file"),
            "stages_done": 0,
            "stages_total": None,
            "error": None if alive or cancelled else self._never_started(run_id),
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

    def dry_run(self, raw: dict[str, Any], source: str | Path) -> DryRun:
        """The engine's own launch check, `xlt-engine run --dry-run --json`, in
        a child process (it resolves the device and reads the data, as a real
        start does, without the TUI importing the training side). InputError
        with the engine's words if the config would not start."""
        config = self.validate(raw, source)
        with tempfile.TemporaryDirectory(prefix="xlt-check-") as folder:
            path = Path(folder) / Path(str(source)).name
            path.write_text(tomli_w.dumps(config.to_toml_dict()), encoding="utf-8")
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "engine.cli",
                    "run",
                    str(path),
                    "--dry-run",
                    "--json",
                    "--workspace",
                    str(self.workspace.root),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "COLUMNS": "10000", "NO_COLOR": "1"},
            )
            self._dry_runs.add(proc)
            try:
                stdout, stderr = proc.communicate()
            finally:
                self._dry_runs.discard(proc)
        if proc.returncode < 0:  # stopped by stop_dry_runs: a newer form
            raise DryRunStopped()
        # Messages name the file the user edits, not our temporary copy.
        stdout = stdout.replace(str(path), str(source))
        if proc.returncode != 0:
            raise InputError(engine_message(stderr.replace(str(path), str(source))))
        document = json.loads(stdout)
        return DryRun(
            summary=document["summary"],
            notices=list(document.get("notices", [])),
            missing_data=dict(document.get("missing_data", {})),
            total_seconds=(document.get("cost") or {}).get("total_seconds"),
        )

    def stop_dry_runs(self) -> None:
        """Stop the checks in progress (their form changed, or the TUI ends);
        a dry run writes nothing, so a kill loses nothing."""
        for proc in list(self._dry_runs):
            proc.kill()

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
        if record.get("launch_only") and record["status"] in LIVE_STATUSES:
            self._note_cancel(run_id)
        return request_stop(record)

    def _note_cancel(self, run_id: str) -> None:
        """Mark the launch record as cancelled by the user, so a process that
        the SIGTERM ends before the engine registered the run reads as
        cancelled, not failed."""
        path = self.workspace.launch_record(run_id)
        try:
            launch = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return  # nothing to mark: the status falls back to the process's
        launch["cancel_requested_at"] = time.time()
        write_text_atomic(path, json.dumps(launch))

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
