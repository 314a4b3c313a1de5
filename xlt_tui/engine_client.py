"""Everything the TUI does to the engine, across the process boundary.

Launch writes the config to `launches/<run_id>.toml` and starts
`xlt-engine run` as a detached process in its own session, so it outlives the
TUI and an SSH hang-up; its own stdout/stderr go to `launches/<run_id>.out`.
From its first event on, a run is in the store and its `runs/<run_id>/` folder;
before that (loading the model, checking data) it exists only as a launch, and
a launch whose process exited without registering the run failed on its input:
the `.out` file says why.

Light module: no torch, no textual.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from engine.atomic import write_text_atomic
from engine.config import ExperimentConfig, parse_config
from engine.errors import InputError
from engine.launch import new_run_id, request_stop
from engine.store import LIVE_STATUSES, Store, process_alive, process_start_time
from engine.workspace import Workspace

LAUNCH_DIR = "launches"


@dataclass(frozen=True)
class Launched:
    run_id: str
    pid: int
    config_path: Path


class EngineClient:
    def __init__(self, workspace: Workspace):
        self.workspace = workspace
        self.store = Store(workspace.store_path)
        self._children: dict[int, subprocess.Popen] = {}

    # -- paths --------------------------------------------------------------
    def events_path(self, run_id: str) -> Path:
        return self.workspace.run_dir(run_id) / "events.jsonl"

    def engine_log_path(self, run_id: str) -> Path:
        return self.workspace.run_dir(run_id) / "engine.log"

    def launch_output_path(self, run_id: str) -> Path:
        return self.workspace.root / LAUNCH_DIR / f"{run_id}.out"

    def _launch_record_path(self, run_id: str) -> Path:
        return self.workspace.root / LAUNCH_DIR / f"{run_id}.json"

    # -- reading ------------------------------------------------------------
    def runs(self) -> list[dict[str, Any]]:
        """Every run, newest last; launches not yet registered by the engine
        show as queued (still starting) or failed (exited on bad input)."""
        self._reap_children()
        runs = self.store.runs()
        known = {r["id"] for r in runs}
        pending = [p for p in self._pending_launches() if p["id"] not in known]
        out = runs + pending
        out.sort(key=lambda r: r.get("started_at") or 0)
        return out

    def run(self, run_id: str) -> dict[str, Any] | None:
        for record in self.runs():
            if record["id"] == run_id:
                return record
        return None

    def _pending_launches(self) -> list[dict[str, Any]]:
        folder = self.workspace.root / LAUNCH_DIR
        out = []
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                launch = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue
            alive = launch.get("host") == socket.gethostname() and process_alive(
                launch["pid"], launch.get("pid_start")
            )
            if not alive and (self.workspace.run_dir(launch["id"])).exists():
                continue  # registered between our two reads
            record = {
                "id": launch["id"],
                "name": launch.get("name", ""),
                "status": "queued" if alive else "failed",
                "started_at": launch.get("started_at"),
                "ended_at": None
                if alive
                else _mtime(self.launch_output_path(launch["id"])),
                "pid": launch["pid"],
                "host": launch.get("host"),
                "config": launch.get("config", {}),
                "stages_done": 0,
                "stages_total": None,
                "error": None if alive else self.launch_error(launch["id"]),
                "launch_only": True,
            }
            out.append(record)
        return out

    def launch_error(self, run_id: str) -> str:
        """The engine's own words for why a launch never became a run."""
        try:
            text = self.launch_output_path(run_id).read_text(encoding="utf-8")
        except OSError:
            return "the engine exited before registering the run"
        lines = [ln for ln in text.splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("error:")]
        return (errors or lines or ["the engine exited before registering the run"])[-1]

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
        folder = self.workspace.root / LAUNCH_DIR
        folder.mkdir(parents=True, exist_ok=True)
        config_path = folder / f"{run_id}.toml"
        write_text_atomic(config_path, tomli_w.dumps(resolved))
        out_path = self.launch_output_path(run_id)
        with open(out_path, "wb") as out:
            child = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "engine.cli",
                    "run",
                    str(config_path),
                    "--workspace",
                    str(self.workspace.root),
                    "--run-id",
                    run_id,
                    "--plain",
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.workspace.root,
                start_new_session=True,  # outlives the TUI and an SSH hang-up
                close_fds=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self._children[child.pid] = child
        record = {
            "id": run_id,
            "name": config.name,
            "pid": child.pid,
            "pid_start": process_start_time(child.pid),
            "host": socket.gethostname(),
            "started_at": time.time(),
            "config": resolved,
            "config_file": str(config_path),
        }
        write_text_atomic(self._launch_record_path(run_id), json.dumps(record))
        return Launched(run_id, child.pid, config_path)

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
        for path in (
            self._launch_record_path(run_id),
            self.launch_output_path(run_id),
            self.workspace.root / LAUNCH_DIR / f"{run_id}.toml",
        ):
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
