"""The namespaces backend, the evaluator's side: start launcher.py and read its
reports. The isolation itself is set up by the launcher (see launcher.py and
the package docstring)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from engine.codeeval.sandbox.backends import Job, Started, program_side_source
from engine.codeeval.sandbox.bubblewrap import OPTIONAL_FILES, SYSTEM_DIRS
from engine.codeeval.sandbox.interpreter import (
    interpreter_folders,
    readable_by_nobody,
    scrubbed_env,
)
from engine.codeeval.sandbox.records import Isolation

LAUNCHER = Path(__file__).with_name("launcher.py")
EXTRA_TASKS = 1
"""Tasks in the program's cgroup besides the program's own: the launcher."""


def start(job: Job) -> Started:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    cfg = {
        "workdir": job.workdir,
        "status_fd": theirs.fileno(),
        "python": sys.executable,
        "program_settings": job.program_settings(),
        "harness_tasks": job.harness_tasks,
        "limits": asdict(job.limits),
        "mounts": {
            # The same empty root as bubblewrap's (see bubblewrap.py).
            "system_dirs": SYSTEM_DIRS,
            "files": OPTIONAL_FILES,
            "interpreter": interpreter_folders(),
        },
        "nobody_can_read_python": readable_by_nobody(),
        "cgroups": job.cgroup.entries() if job.cgroup else [],
        "bootstrap_source": program_side_source("bootstrap.py"),
    }
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-B", "-S", str(LAUNCHER), str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(theirs.fileno(),),
            cwd=job.workdir,
            env=scrubbed_env(job.workdir),
            start_new_session=True,
            close_fds=True,
        )
    except OSError:
        ours.close()
        raise
    finally:
        theirs.close()
    return Started(proc, ours, json.dumps(cfg).encode())


def outcome(
    reports: dict, job: Job, stderr: str, cpu_s: float | None
) -> tuple[dict, Isolation | None]:
    """The launcher reports in the common form already; its isolation facts
    become the Isolation, with the evaluator's own notes first."""
    isolation = None
    if "isolation" in reports:
        facts = dict(reports["isolation"])
        facts["notes"] = [*job.notes, *facts.get("notes", [])]
        isolation = Isolation.from_report(facts, job.limits.python_guard)
    return reports, isolation
