"""The evaluator: run one program through the chosen backend and judge it.

`run_program` picks the backend (backends.choose), makes the temporary working
folder and the program's cgroup, starts the backend's launcher, supervises it
(supervise.Supervisor: wall clock, output cap, kill), reads the cgroup's OOM
count, classifies (classify.classify) and removes what it made. It never
raises for anything the program does; a sandbox that cannot start is an
"error" verdict that says why.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import time

from engine.codeeval.sandbox import bubblewrap, cgroup, leftovers, namespaces
from engine.codeeval.sandbox.backends import Job, SandboxUnavailable, choose
from engine.codeeval.sandbox.classify import (
    MARKER_PREFIX,
    classify,
    completed,
    output_tail,
)
from engine.codeeval.sandbox.launcher import PROGRAM_FILE
from engine.codeeval.sandbox.records import Isolation, Limits, Verdict
from engine.codeeval.sandbox.supervise import Supervisor

_BACKENDS = {"bubblewrap": bubblewrap, "namespaces": namespaces}
CGROUP_HEADROOM_MB = 32
"""The cgroup holds the launcher's processes too (a Python, or bwrap's two):
their share on top of `memory_mb`, so that a single process still meets
RLIMIT_AS (a MemoryError) before the cgroup's OOM killer."""
_last_isolation: Isolation | None = None


def last_isolation() -> Isolation | None:
    """What the most recent run in this process had in effect (None before any)."""
    return _last_isolation


def probe_isolation(limits: Limits | None = None) -> Isolation:
    """Run an empty program and report which layers this machine provides
    (with the backend that `limits` and XLT_SANDBOX choose)."""
    verdict = run_program("pass\n", limits or Limits())
    if verdict.isolation is None:
        raise RuntimeError(f"the sandbox did not start: {verdict.reason}")
    return verdict.isolation


def run_program(
    source: str, limits: Limits | None = None, tests: str | None = None
) -> Verdict:
    """Run `source` in the sandbox; never raises for anything the program does.

    With `tests` (Python code that uses the program's names), the tests run in
    a harness process of their own and its exit status is the verdict
    (harness.py); without, the program passes when it reaches its end."""
    limits = limits or Limits()
    start = time.monotonic()
    try:
        name, notes = choose(limits)
    except SandboxUnavailable as exc:
        return Verdict("error", f"the sandbox could not start: {exc}", 0.0, "")
    backend = _BACKENDS[name]
    leftovers.sweep_once()  # folders of evaluators killed before they cleaned up
    workdir = tempfile.mkdtemp(prefix=leftovers.workdir_prefix())
    program_cgroup = None
    try:
        with open(os.path.join(workdir, PROGRAM_FILE), "w", encoding="utf-8") as fh:
            fh.write(source)
        harness = 0 if tests is None else 1
        program_cgroup, cgroup_notes = cgroup.create(
            (limits.memory_mb + CGROUP_HEADROOM_MB * (1 + harness)) * 1024 * 1024,
            limits.max_processes + backend.EXTRA_TASKS + harness,
        )
        job = Job(
            limits=limits,
            workdir=workdir,
            marker=None if tests is not None else MARKER_PREFIX + secrets.token_hex(16),
            cgroup=program_cgroup,
            notes=notes + cgroup_notes,
            tests=tests,
        )
        return _run(backend, job, start)
    finally:
        if program_cgroup is not None:
            program_cgroup.remove()
        shutil.rmtree(workdir, ignore_errors=True)


def _run(backend, job: Job, start: float) -> Verdict:
    global _last_isolation
    try:
        started = backend.start(job)
    except (OSError, SandboxUnavailable) as exc:
        return Verdict("error", f"the sandbox could not start: {exc}", 0.0, "")
    supervisor = Supervisor(
        started.proc, started.status, job.limits, start, started.pid_report_key
    )
    cpu_s = None
    try:
        try:
            started.proc.stdin.write(started.payload)
            started.proc.stdin.close()
        except OSError:
            pass  # the launcher died at once; its exit status tells why
        supervisor.run()
    finally:
        supervisor.kill_all()
        cpu_s = supervisor.reap()
        supervisor.close()
    stdout = supervisor.out.decode("utf-8", "replace")
    stderr = supervisor.err.decode("utf-8", "replace")
    reports, isolation = backend.outcome(supervisor.reports(), job, stderr, cpu_s)
    status, reason = classify(
        supervisor.limit_hit,
        reports,
        job.marker is not None and completed(stdout, job.marker),
        stderr,
        started.proc.returncode,
        job.limits,
        job.cgroup.oom_kills() if job.cgroup else 0,
        judged_by_harness=job.tests is not None,
    )
    seconds = round((supervisor.ended or start) - start, 3)
    tail = output_tail(stdout.replace(job.marker, "") if job.marker else stdout, stderr)
    if isolation is not None:
        _last_isolation = isolation
    return Verdict(status, reason, seconds, tail, isolation)
