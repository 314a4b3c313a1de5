"""Which backend runs a program, and what a backend hands the evaluator.

The choice: `Limits.backend` when it is not "auto"; else the XLT_SANDBOX
environment variable (auto, bubblewrap or namespaces) when it is set; else
auto: bubblewrap where `bwrap` is installed (on PATH, or /usr/bin/bwrap) and a
probe run works, the namespaces launcher otherwise, with a note saying why.
An explicit choice never falls back: bubblewrap asked for where it is missing
is an error verdict, and a broken one fails with bwrap's own message.
`Limits(namespaces=False)` always takes the namespaces launcher (without
namespaces).

Each backend module has `start(job) -> Started` (raises OSError or
SandboxUnavailable when it cannot start) and `outcome(reports, job, stderr,
cpu_s)`, which turns its launcher's reports into the common ones (`exit` or
`signal`, `cpu_s`, `setup_error`) and the `Isolation` that held.
"""

from __future__ import annotations

import functools
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from engine.codeeval.sandbox.cgroup import ProgramCgroup
from engine.codeeval.sandbox.records import BACKEND_CHOICES, Limits

ENV_VAR = "XLT_SANDBOX"


class SandboxUnavailable(Exception):
    """The sandbox asked for cannot run here; the message says why."""


@dataclass
class Job:
    """One program run, as a backend sees it."""

    limits: Limits
    workdir: str
    """The evaluator's temporary folder on the host; program.py is in it."""
    marker: str | None
    """What the bootstrap prints after the program's last statement (None
    when `tests` judge the run: then there is no marker)."""
    cgroup: ProgramCgroup | None
    notes: list[str] = field(default_factory=list)
    """Said before the run (backend choice, cgroup); end up in Isolation.notes."""
    backend_facts: dict = field(default_factory=dict)
    """What the backend's start() leaves for its outcome()."""
    tests: str | None = None
    """Test code run by the harness process, apart from the program
    (harness.py); None: the program is judged by its marker."""

    @property
    def harness_tasks(self) -> int:
        """The harness process, where there is one (it counts towards the
        program's process limits)."""
        return 0 if self.tests is None else 1

    def program_settings(self) -> dict:
        """What the bootstrap reads on fd 3, less the backend's own paths."""
        settings: dict = {
            "guard": self.limits.python_guard,
            "guard_source": program_side_source("guard.py"),
        }
        if self.tests is None:
            settings["marker"] = self.marker
        else:
            settings["tests"] = self.tests
            settings["harness_source"] = program_side_source("harness.py")
        return settings


@dataclass
class Started:
    proc: subprocess.Popen
    """The launcher (its stdout and stderr are the program's)."""
    status: object
    """Where the launcher reports: a socket or a readable pipe."""
    payload: bytes
    """Written to the launcher's stdin, which is then closed."""
    pid_report_key: str | None = None
    """A report naming the sandbox's first process, for a pidfd on it."""


@functools.lru_cache(maxsize=4)
def program_side_source(name: str) -> str:
    """The source text of a module that runs inside the sandboxed interpreter
    (guard.py, bootstrap.py), which may not see this package."""
    return (Path(__file__).parent / name).read_text(encoding="utf-8")


def requested(limits: Limits) -> tuple[str, str]:
    """(auto | bubblewrap | namespaces, who asked for it)."""
    if limits.backend != "auto":
        return limits.backend, f"Limits(backend={limits.backend!r})"
    value = os.environ.get(ENV_VAR, "").strip()
    if not value:
        return "auto", ""
    if value not in BACKEND_CHOICES:
        raise SandboxUnavailable(
            f"{ENV_VAR}={value!r} is not a sandbox backend "
            f"(expected one of: {', '.join(BACKEND_CHOICES)})"
        )
    return value, f"{ENV_VAR}={value}"


def choose(limits: Limits) -> tuple[str, list[str]]:
    """The backend that runs a program with `limits`, and notes on the choice."""
    from engine.codeeval.sandbox import bubblewrap

    choice, asker = requested(limits)
    if not limits.namespaces:
        notes = []
        if choice == "bubblewrap":
            notes.append(f"{asker} not followed: Limits(namespaces=False)")
        return "namespaces", notes
    if choice == "namespaces":
        return "namespaces", []
    if choice == "bubblewrap":
        if bubblewrap.find_bwrap() is None:
            raise SandboxUnavailable(
                f"bubblewrap was asked for ({asker}) but is not installed: "
                f"{bubblewrap.NOT_FOUND} (install the 'bubblewrap' package, or "
                f"set {ENV_VAR}=namespaces)"
            )
        return "bubblewrap", []
    reason = bubblewrap.unusable_reason()
    if reason is None:
        return "bubblewrap", []
    return "namespaces", [f"bubblewrap not used: {reason}"]
