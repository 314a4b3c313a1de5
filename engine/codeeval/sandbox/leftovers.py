"""What a killed evaluator leaves behind, and its removal at the next start.

A sandboxed program dies with its evaluator (PR_SET_PDEATHSIG on the launcher
and on bwrap, and the pid namespace's init takes the rest), but an evaluator
killed with SIGKILL never runs its own clean-up: its temporary working folders
stay. Each folder's name says whose it is, `xlt-sandbox-<pid>-<start>-...`
(the evaluator's pid and its start time in clock ticks since boot, field 22 of
/proc/<pid>/stat, so that a reused pid is not mistaken for the owner); the
first run of each evaluator removes the folders whose owner is gone.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading

WORKDIR_PREFIX = "xlt-sandbox-"
_OWNED = re.compile(rf"^{re.escape(WORKDIR_PREFIX)}(\d+)-(\d+)-")
_swept = threading.Event()
_sweep_lock = threading.Lock()


def start_ticks(pid: int) -> int | None:
    """When `pid` started (clock ticks since boot), None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def workdir_prefix() -> str:
    """The name prefix of this evaluator's working folders."""
    pid = os.getpid()
    return f"{WORKDIR_PREFIX}{pid}-{start_ticks(pid) or 0}-"


def owner_alive(name: str) -> bool | None:
    """Is the evaluator that made folder `name` still running? None when the
    name does not say whose it is (then it is never removed)."""
    match = _OWNED.match(name)
    if match is None:
        return None
    pid, ticks = int(match.group(1)), int(match.group(2))
    return start_ticks(pid) == ticks


def sweep_stale_workdirs(parent: str | None = None) -> list[str]:
    """Remove the working folders under `parent` (the temporary folder) whose
    evaluator is gone; the removed paths."""
    parent = parent or tempfile.gettempdir()
    removed: list[str] = []
    try:
        names = os.listdir(parent)
    except OSError:
        return removed
    for name in names:
        if owner_alive(name) is False:
            path = os.path.join(parent, name)
            shutil.rmtree(path, ignore_errors=True)
            if not os.path.exists(path):
                removed.append(path)
    return removed


def sweep_once() -> None:
    """The sweep, once per evaluator process (at its first run)."""
    if _swept.is_set():
        return
    with _sweep_lock:
        if not _swept.is_set():
            sweep_stale_workdirs()
            _swept.set()
