"""Run control, shared by `xlt-engine` and the TUI: run ids and statuses,
stop signals, whether a run's process is still there, and starting the engine
as a detached process.

The statuses a run record can have (`RUN_STATUSES`) are defined here once;
the store, the CLI and the TUI all read them from here.

Light module: no torch, no textual.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.atomic import write_text_atomic
from engine.errors import Cancelled, InputError
from engine.workspace import Workspace

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2

RUN_STATUSES = (
    "starting",  # the engine registered the run by id; it loads config, data, model
    "queued",  # waiting for a device (reserved: nothing queues runs yet)
    "running",
    "finished",
    "failed",
    "cancelled",
    "interrupted",  # read, never written: a live run whose process is gone
)
LIVE_STATUSES = ("starting", "queued", "running")
ENDED_STATUSES = tuple(s for s in RUN_STATUSES if s not in LIVE_STATUSES)

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


# --------------------------------------------------------------------------
# Run ids


def new_run_id(name: str) -> str:
    """`<date>-<time>-<name slug>-<4 hex>`: sorts by start, reads at a glance."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()[:40] or "run"
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}-{secrets.token_hex(2)}"


def check_run_id(run_id: str) -> str:
    """The id itself if it can name a folder and a record; InputError if not."""
    if not _RUN_ID.match(run_id):
        raise InputError(
            f"run id '{run_id}' is not valid; use letters, digits, '.', '_' and '-' "
            "(at most 100 characters, starting with a letter or digit)"
        )
    return run_id


# --------------------------------------------------------------------------
# Signals


class StopFlag:
    """Set by SIGTERM/SIGINT/SIGHUP (and `xlt-engine cancel`); read between steps.

    While a run is starting (`immediate=True`) nothing is lost by stopping at
    once, so a signal raises `Cancelled` right away; `defer()` switches to
    stopping at the next safe point once the run has work to keep. A second
    Ctrl-C stops at once either way.
    """

    def __init__(self, immediate: bool = False):
        self._event = threading.Event()
        self.signal_name: str | None = None
        self.immediate = immediate

    def __call__(self) -> bool:
        return self._event.is_set()

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._handle)

    def defer(self) -> None:
        """From now on a signal only sets the flag; the run stops at its next
        safe point. A signal that arrived before is still seen by the loop."""
        self.immediate = False

    def _handle(self, signum, frame) -> None:
        if self._event.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C stops at once
        self.signal_name = signal.Signals(signum).name
        self._event.set()
        if self.immediate:
            raise Cancelled(f"cancelled while starting ({self.signal_name} received)")


def request_stop(record: dict[str, Any]) -> str:
    """Ask a live run's engine to stop at its next safe point (SIGTERM), as
    `xlt-engine cancel` and the TUI do; what finished is kept. Returns what
    happened, in words; InputError for a run on another host."""
    run_id = record["id"]
    if record["status"] not in LIVE_STATUSES:
        return f"run {run_id} is not running (status: {record['status']})"
    if record.get("host") != socket.gethostname():
        raise InputError(
            f"run {run_id} runs on host '{record.get('host')}'; cancel it there"
        )
    if not record.get("pid"):
        return f"run {run_id} has no process to stop"
    try:
        os.kill(record["pid"], signal.SIGTERM)
    except ProcessLookupError:
        return f"run {run_id} has already stopped"
    return (
        f"asked run {run_id} (pid {record['pid']}) to stop; it stops after the "
        "current step and keeps what finished"
    )


# --------------------------------------------------------------------------
# Is the run's process still there?


def process_start_time(pid: int) -> int | None:
    """The kernel's start time of a process (Linux), to tell a reused pid apart."""
    stat = _proc_stat(pid)
    # Field 22, counted after the parenthesised command name, which may hold spaces.
    return int(stat[19]) if stat else None


def process_alive(pid: int, start_time: int | None = None) -> bool:
    """True while `pid` is the process that had `start_time` and has not
    exited (a zombie, exited but not yet waited for, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if start_time is not None:
        stat = _proc_stat(pid)
        if stat is not None:
            if int(stat[19]) != start_time:
                return False  # the pid was reused by another process
            if stat[0] == "Z":
                return False
    return True


def _proc_stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name: state first, then the rest."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()


def effective_status(run: dict[str, Any]) -> str:
    """The recorded status, except that a live run (starting, queued,
    running) on this host whose process is gone is `interrupted`."""
    status = run.get("status", "queued")
    if status not in LIVE_STATUSES:
        return status
    if run.get("host") != socket.gethostname() or not run.get("pid"):
        return status  # another machine's run: we cannot look at its process
    if process_alive(run["pid"], run.get("pid_start")):
        return status
    return "interrupted"


# --------------------------------------------------------------------------
# Starting the engine detached


@dataclass(frozen=True)
class Launched:
    run_id: str
    pid: int
    config_path: Path
    process: subprocess.Popen


def launch_detached(
    workspace: Workspace,
    config_path: str | Path,
    run_id: str,
    *,
    name: str = "",
    config: dict[str, Any] | None = None,
) -> Launched:
    """Start `python -m engine.cli run CONFIG --workspace W --run-id ID --plain`
    in its own session (it outlives the caller and an SSH hang-up), stdin from
    /dev/null, stdout and stderr to `launches/<id>.out`; then write the launch
    record (`launches/<id>.json`: pid, its start time, host, when, name,
    config), which is all there is of the run until the engine registers it
    (within a second: `xlt-engine run --run-id` writes a `starting` record
    first thing).

    The caller keeps `process` and polls it, so that it does not linger as a
    zombie (which `process_alive` counts as gone)."""
    check_run_id(run_id)
    config_path = Path(config_path)
    out_path = workspace.launch_output(run_id)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with open(out_path, "wb") as out:
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "engine.cli",
                "run",
                str(config_path),
                "--workspace",
                str(workspace.root),
                "--run-id",
                run_id,
                "--plain",
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=workspace.root,
            start_new_session=True,  # outlives the caller and an SSH hang-up
            close_fds=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    record = {
        "id": run_id,
        "name": name,
        "pid": child.pid,
        "pid_start": process_start_time(child.pid),
        "host": socket.gethostname(),
        "started_at": time.time(),
        "config": config or {},
        "config_file": str(config_path),
    }
    write_text_atomic(workspace.launch_record(run_id), json.dumps(record))
    return Launched(run_id, child.pid, config_path, child)


def read_launches(workspace: Workspace) -> list[dict[str, Any]]:
    """Every launch record that can be read, in run-id order."""
    out = []
    for path in workspace.launch_records():
        try:
            launch = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(launch, dict) and "id" in launch and "pid" in launch:
            out.append(launch)
    return out


def launch_alive(launch: dict[str, Any]) -> bool:
    """Whether a launch's engine process is still there (on this host)."""
    return launch.get("host") == socket.gethostname() and process_alive(
        launch["pid"], launch.get("pid_start")
    )


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent_pid: int, watchdog: str) -> None:
    """Never outlive `parent_pid`: a child process left behind (a worker, a
    DDP rank) would hold a GPU and a stage lock for nobody. The kernel kills
    this process when its parent goes (PR_SET_PDEATHSIG); the parent may have
    died before prctl took effect, and other systems have no prctl, so a
    watchdog thread also exits once the parent is no longer ours."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except OSError:
            pass
    if os.getppid() != parent_pid:
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name=watchdog, daemon=True).start()
