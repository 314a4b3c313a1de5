"""The bubblewrap backend: the program in an otherwise empty root.

`bwrap` (the sandbox Flatpak is built on) makes every namespace (user, mount,
pid, network, IPC, UTS, cgroup) and mounts, read-only, only what the
interpreter needs: the system folders (/usr; /lib, /lib64, /bin, /sbin as the
host has them, symlinks or folders), /etc/ld.so.cache, and the interpreter's
own folders (prefixes, the resolved executable's folder, the standard library,
site-packages; a venv and its base). Nothing else of the host exists in there:
no home, no /root, no /etc, no /run, no host /tmp. The program gets a fresh
/proc, a minimal /dev, empty tmpfs mounts for /tmp and /dev/shm, and its
working directory /sandbox, a tmpfs of `max_disk_bytes` into which bwrap
copies program.py. It runs as uid 65534 inside, with no capabilities, no new
privileges, a session of its own (`--new-session`), dies with its parent, and
cannot make user namespaces (`--disable-userns`, where this bwrap has it).

Between the evaluator and bwrap, bwrap_entry.py joins the program's cgroups,
sets the rlimits (they survive exec) and, for a root evaluator whose
interpreter uid 65534 can read, becomes uid 65534 first, so that the program is
uid 65534 on the host too. Otherwise root's bwrap maps the program to host uid
0 (without capabilities, in an empty read-only root): RLIMIT_NPROC does not
apply to host uid 0, so only the pids cgroup caps its processes, and
`Isolation.process_limit` says whether one did. The bootstrap sets
RLIMIT_NPROC itself, inside the sandbox's user namespace, where the count is
the sandbox's own.

bwrap reports the sandbox's first pid and its exit code on `--json-status-fd`;
a program killed by signal N shows as exit code 128 + N.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from engine.codeeval.sandbox.backends import (
    Job,
    SandboxUnavailable,
    Started,
    program_side_source,
)
from engine.codeeval.sandbox.interpreter import (
    interpreter_folders,
    readable_by_nobody,
    scrubbed_env,
)
from engine.codeeval.sandbox.launcher import PROGRAM_FILE, UNPRIVILEGED_UID
from engine.codeeval.sandbox.records import Isolation, Limits

FALLBACK_PATHS = ("/usr/bin/bwrap",)
"""Where bwrap is looked for when it is not on PATH."""
NOT_FOUND = "no bwrap on PATH or at " + ", ".join(FALLBACK_PATHS)
WORKDIR = "/sandbox"
"""The program's working directory (and HOME, TMPDIR) inside the sandbox."""
ENTRY = Path(__file__).with_name("bwrap_entry.py")
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
OPTIONAL_FILES = ("/etc/ld.so.cache",)
"""Mounted where present: the dynamic linker finds libraries outside its
default folders (say /usr/local/lib) through it; it holds no secrets."""
EXTRA_TASKS = 2
"""Tasks in the program's cgroup besides the program's own: bwrap's monitor
and the sandbox's init."""
REQUIRED_OPTIONS = ("--json-status-fd", "--unshare-all", "--die-with-parent")
# Descriptor numbers inside bwrap_entry.py, after it has moved them: the
# program's settings (fd 3 for the bootstrap), program.py, the status pipe.
FD_NUMBERS = _CFG_FD, _PROGRAM_FD, _STATUS_FD = 3, 4, 5


def find_bwrap() -> str | None:
    found = shutil.which("bwrap")
    if found:
        return found
    for path in FALLBACK_PATHS:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


@functools.lru_cache(maxsize=8)
def _options(bwrap: str) -> frozenset[str]:
    """The options this bwrap knows (from its --help)."""
    try:
        text = subprocess.run(
            [bwrap, "--help"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(
        word
        for line in text.splitlines()
        for word in line.split()[:1]
        if word.startswith("--")
    )


def _mode() -> str:
    """Who runs bwrap: "caller" (an unprivileged evaluator), "nobody" (root,
    becoming uid 65534 first) or "root" (root; the program is host uid 0)."""
    if os.geteuid() != 0:
        return "caller"
    return "nobody" if _nobody_works() else "root"


_probe_lock = threading.Lock()
_probed: dict[tuple, str | None] = {}


def _probe(bwrap: str, mode: str) -> str | None:
    """None if an interpreter starts in this sandbox, else why not. Cached."""
    key = (bwrap, mode, os.geteuid(), sys.executable)
    with _probe_lock:
        if key not in _probed:
            _probed[key] = _run_probe(bwrap, mode)
        return _probed[key]


def _run_probe(bwrap: str, mode: str) -> str | None:
    options = _options(bwrap)
    missing = [o for o in REQUIRED_OPTIONS if o not in options]
    if missing:
        return f"{bwrap} is too old (no {', '.join(missing)})"
    try:
        argv, _ = command_line(bwrap, Limits(), program_fd=None, status_fd=None)
    except SandboxUnavailable as exc:
        return str(exc)
    argv += [sys.executable, "-I", "-B", "-S", "-c", "pass"]
    cfg = {
        "argv": argv,
        "fds": [],
        "report_fd": 2,
        "cgroups": [],
        "rlimits": [],
        "uid": UNPRIVILEGED_UID if mode == "nobody" else None,
    }
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-B", "-S", str(ENTRY), str(os.getpid())],
            input=json.dumps(cfg).encode(),
            capture_output=True,
            timeout=20,
            start_new_session=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"its probe did not run: {exc}"
    if done.returncode == 0:
        return None
    lines = [
        line
        for line in done.stderr.decode(errors="replace").splitlines()
        if line.strip() and not line.startswith("{")
    ]
    return f"its probe failed: {lines[-1] if lines else f'exit {done.returncode}'}"


def _nobody_works() -> bool:
    bwrap = find_bwrap()
    return (
        bwrap is not None and readable_by_nobody() and _probe(bwrap, "nobody") is None
    )


def unusable_reason() -> str | None:
    """None where bubblewrap works here, else why not (for auto's choice)."""
    bwrap = find_bwrap()
    if bwrap is None:
        return NOT_FOUND
    return _probe(bwrap, _mode())


def _tmpfs(path: str, size: int, perms: str, options) -> list[str]:
    args = ["--size", str(size)] if "--size" in options else []
    if "--perms" in options:
        args += ["--perms", perms]
    return [*args, "--tmpfs", path]


def command_line(
    bwrap: str, limits: Limits, program_fd: int | None, status_fd: int | None
) -> tuple[list[str], list[str]]:
    """bwrap's argv up to the command, and the host paths it mounts."""
    options = _options(bwrap)
    args = [
        bwrap,
        "--unshare-all",
        "--unshare-user",  # (root's --unshare-all only tries it)
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--uid",
        str(UNPRIVILEGED_UID),
        "--gid",
        str(UNPRIVILEGED_UID),
    ]
    if "--disable-userns" in options:
        args.append("--disable-userns")
    host_paths: list[str] = []
    links: list[str] = []
    for folder in SYSTEM_DIRS:
        if os.path.islink(folder):
            args += ["--symlink", os.readlink(folder), folder]
            links.append(folder)
        elif os.path.isdir(folder):
            args += ["--ro-bind", folder, folder]
            host_paths.append(folder)
    for path in OPTIONAL_FILES:
        if os.path.isfile(path):
            args += ["--ro-bind", path, path]
            host_paths.append(path)
    args += ["--proc", "/proc", "--dev", "/dev"]
    disk = limits.max_disk_bytes
    args += _tmpfs("/tmp", disk, "1777", options)
    args += _tmpfs("/dev/shm", disk, "1777", options)
    for folder in interpreter_folders():
        if folder == "/" or folder == WORKDIR or folder.startswith(WORKDIR + "/"):
            raise SandboxUnavailable(
                f"the interpreter's folder {folder} cannot be mounted alone"
            )
        if any(folder == p or folder.startswith(p + "/") for p in host_paths):
            continue
        if any(folder.startswith(link + "/") for link in links):
            continue  # (its real path, under the link's target, is mounted)
        args += ["--ro-bind", folder, folder]
        host_paths.append(folder)
    args += _tmpfs(WORKDIR, disk, "0700", options)
    if program_fd is not None:
        args += ["--file", str(program_fd), f"{WORKDIR}/{PROGRAM_FILE}"]
    args += ["--chdir", WORKDIR, "--clearenv"]
    for key, value in scrubbed_env(WORKDIR).items():
        args += ["--setenv", key, value]
    if status_fd is not None:
        args += ["--json-status-fd", str(status_fd)]
    return [*args, "--"], host_paths


def _rlimits(limits: Limits) -> list[tuple[str, int, int]]:
    memory = limits.memory_mb * 1024 * 1024
    return [
        ("RLIMIT_CPU", limits.cpu_s, limits.cpu_s + 1),
        ("RLIMIT_AS", memory, memory),
        ("RLIMIT_FSIZE", limits.max_file_bytes, limits.max_file_bytes),
        ("RLIMIT_CORE", 0, 0),
    ]


def start(job: Job) -> Started:
    bwrap = find_bwrap()
    if bwrap is None:
        raise SandboxUnavailable(f"bubblewrap is not installed: {NOT_FOUND}")
    mode = _mode()
    job.notes.extend(_mode_notes(mode))
    limits = job.limits
    argv, host_paths = command_line(bwrap, limits, _PROGRAM_FD, _STATUS_FD)
    job.backend_facts.update(host_paths=host_paths, mode=mode, options=_options(bwrap))
    argv += [sys.executable, "-I", "-B", "-c", program_side_source("bootstrap.py")]
    program_settings = {
        **job.program_settings(),
        "program": f"{WORKDIR}/{PROGRAM_FILE}",
        "workdir": WORKDIR,
        # bwrap's init counts there too, and the harness where there is one
        "nproc": limits.max_processes + 1 + job.harness_tasks,
    }
    entry = {
        "argv": argv,
        "report_fd": _STATUS_FD,
        "cgroups": job.cgroup.entries() if job.cgroup else [],
        "rlimits": _rlimits(limits),
        "uid": UNPRIVILEGED_UID if mode == "nobody" else None,
    }
    passed: list[int] = []  # the entry's copies; ours are closed once it has them
    status_r = None
    try:
        cfg_r, cfg_w = os.pipe()
        passed.append(cfg_r)
        # Far below a pipe's capacity (the guard is a few KiB): never blocks.
        with open(cfg_w, "wb") as fh:
            fh.write(json.dumps(program_settings).encode())
        passed.append(os.open(os.path.join(job.workdir, PROGRAM_FILE), os.O_RDONLY))
        status_r, status_w = os.pipe()
        passed.append(status_w)
        entry["fds"] = [list(pair) for pair in zip(passed, FD_NUMBERS, strict=True)]
        proc = subprocess.Popen(
            [sys.executable, "-I", "-B", "-S", str(ENTRY), str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=passed,
            cwd=job.workdir,
            env=scrubbed_env(job.workdir),
            start_new_session=True,
            close_fds=True,
        )
    except OSError:
        if status_r is not None:
            os.close(status_r)
        raise
    finally:
        for fd in passed:
            os.close(fd)
    status = open(status_r, "rb", buffering=0)  # the supervisor closes it
    return Started(proc, status, json.dumps(entry).encode(), "child-pid")


def _mode_notes(mode: str) -> list[str]:
    if mode == "root":
        return [
            "runs as host uid 0 (uid 65534 in its user namespace, no capabilities): "
            "uid 65534 cannot read the interpreter where it is, or cannot run "
            "bwrap; RLIMIT_NPROC does not apply to host uid 0"
        ]
    return []


def outcome(
    reports: dict, job: Job, stderr: str, cpu_s: float | None
) -> tuple[dict, Isolation | None]:
    """bwrap's status in the common form, and what held if the program ran."""
    common: dict = {"cpu_s": cpu_s}
    first_stderr = stderr.lstrip().splitlines()[0] if stderr.strip() else ""
    code = reports.get("exit-code")
    if "setup_error" in reports:
        common["setup_error"] = reports["setup_error"]
    elif first_stderr.startswith("bwrap:") and code != 0:
        # bwrap's own failure (before or after it reports a pid): it speaks
        # before the program can.
        common["setup_error"] = first_stderr
    elif isinstance(code, int):
        signal_number = code - 128
        if 0 < signal_number < 65:
            common["signal"] = signal_number
        else:
            common["exit"] = code
    if "child-pid" not in reports or "setup_error" in common:
        return common, None
    joined = set(reports.get("cgroups", []))
    mode = job.backend_facts.get("mode", "root")
    host_uid = {"caller": os.getuid(), "nobody": UNPRIVILEGED_UID}.get(mode, 0)
    notes = [*job.notes, *reports.get("notes", [])]
    if host_uid == 0:
        notes.append(
            "the pids cgroup caps its processes"
            if "pids" in joined
            else "no pids cgroup: the number of its processes is not capped"
        )
    options = job.backend_facts.get("options", frozenset())
    if "--disable-userns" not in options:
        notes.append(
            "this bwrap has no --disable-userns: the program may make user "
            "namespaces of its own"
        )
    facts = {
        "backend": "bubblewrap",
        "user_ns": True,
        "mount_ns": True,
        "empty_root": True,
        "host_paths": job.backend_facts.get("host_paths", ()),
        "readonly_fs": True,
        "private_tmp": "--size" in options,
        "net_ns": True,
        "pid_ns": True,
        "private_proc": True,
        "nested_userns_blocked": "--disable-userns" in options,
        "uid": host_uid,
        "process_limit": host_uid != 0 or "pids" in joined,
        "memory_cgroup": "memory" in joined,
        "notes": notes,
    }
    return common, Isolation.from_report(facts, job.limits.python_guard)
