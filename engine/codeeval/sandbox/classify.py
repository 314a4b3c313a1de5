"""From what a run left behind to a verdict: status, one-line reason, output tail.

The inputs are the same for every backend: the limit the supervisor enforced
(if any), the launcher's reports (`setup_error`, `exit` or `signal`,
`cpu_s`), the program's stdout and stderr, the launcher's own exit status, and
the number of OOM kills in the program's memory cgroup.
"""

from __future__ import annotations

import signal

from engine.codeeval.sandbox.harness import ENDED_EARLY, KILLED_BY
from engine.codeeval.sandbox.launcher import EXEC_FAILED
from engine.codeeval.sandbox.records import Limits

MARKER_PREFIX = "__XLT_PASSED__"
OUTPUT_TAIL_CHARS = 2000


def completed(stdout: str, marker: str) -> bool:
    """Did the program's last statement run (the marker is a line of its own)?"""
    return any(line == marker for line in stdout.splitlines())


def output_tail(stdout: str, stderr: str) -> str:
    half = OUTPUT_TAIL_CHARS // 2
    parts = []
    if stdout.strip():
        parts.append("stdout:\n" + stdout.rstrip()[-half:])
    if stderr.strip():
        parts.append("stderr:\n" + stderr.rstrip()[-half:])
    return "\n".join(parts)


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def classify(
    limit_hit: tuple[str, str] | None,
    reports: dict,
    completed: bool,
    stderr: str,
    launcher_rc: int | None,
    limits: Limits,
    oom_kills: int = 0,
    judged_by_harness: bool = False,
) -> tuple[str, str]:
    """`judged_by_harness`: the exit status is the test harness's (0 = every
    test ran; see harness.py), not the program's; there is no marker."""
    memory = f"memory limit of {limits.memory_mb} MiB exceeded"
    if oom_kills:
        # Whatever died of it (the program, or its launcher first), the cause
        # is the memory the program held.
        return "error", (
            f"{memory}: the program's memory cgroup ran out and its OOM killer "
            "ended the program"
        )
    if limit_hit is not None:
        return limit_hit
    if "setup_error" in reports:
        return "error", f"the sandbox could not start: {reports['setup_error']}"
    last = last_line(stderr)
    if judged_by_harness and "exit" in reports and last.startswith(KILLED_BY):
        # The harness, pid 1 of its namespace, could not die of the signal
        # that ended the program: it said which.
        number = last[len(KILLED_BY) :]
        if number.isdigit():
            reports = {**reports, "signal": int(number)}
            reports.pop("exit")
    if "exit" not in reports and "signal" not in reports:
        if launcher_rc is not None and launcher_rc < 0:
            return "error", (
                f"the sandbox launcher (the program's parent) was killed by "
                f"{signal_name(-launcher_rc)}: the program signalled its parent "
                "or its process group"
            )
        return "error", (
            f"the sandbox launcher ended without a report (exit status {launcher_rc})"
        )
    if "signal" in reports:
        name = signal_name(reports["signal"])
        cpu = reports.get("cpu_s") or 0.0
        if name == "SIGXCPU" or (name == "SIGKILL" and cpu >= limits.cpu_s):
            return "timed_out", f"CPU time limit of {limits.cpu_s} s exceeded"
        if name == "SIGXFSZ":
            return "error", (
                f"file size limit of {limits.max_file_bytes} bytes exceeded"
            )
        return "error", f"killed by signal {name}"
    code = reports["exit"]
    if code == 0:
        if completed or judged_by_harness:
            return "passed", ""
        return "failed", (
            "exited with status 0 before its tests finished (no completion marker)"
        )
    if last.startswith(("SyntaxError", "IndentationError", "TabError")):
        return "error", last
    if "MemoryError" in last.split(":")[0] or "[Errno 12]" in last:  # ENOMEM
        return "error", f"{memory} ({last})"
    if "[Errno 27]" in last:
        return "error", (
            f"file size limit of {limits.max_file_bytes} bytes exceeded ({last})"
        )
    if "[Errno 28]" in last:
        return "error", (
            f"disk limit exceeded: the working directory holds at most "
            f"{limits.max_disk_bytes} bytes ({last})"
        )
    if last.startswith(("Fatal Python error", EXEC_FAILED)):
        return "error", last
    if last == ENDED_EARLY:
        return "failed", (
            "exited with status 0 before its tests finished (the tests' harness "
            "saw it end)"
        )
    if completed:
        return "failed", f"exit status {code} after its tests finished: {last}"
    return "failed", last or f"exit status {code}"
